#!/usr/bin/env bash
# Publishes one service the way its container image does: every services/*/Dockerfile runs exactly this script, and
# scripts/check-publish.sh runs it for every service in CI (no container engine there), so the two cannot drift.
#   scripts/publish.sh SERVICE OUTPUT_DIR      e.g. scripts/publish.sh Gateway /tmp/out/gateway
set -euo pipefail
cd "$(dirname "$0")/.."
service="${1:?usage: scripts/publish.sh SERVICE OUTPUT_DIR}"
out="${2:?usage: scripts/publish.sh SERVICE OUTPUT_DIR}"
project="services/$service/$service.csproj"
[ -f "$project" ] || { echo "publish.sh: no project $project" >&2; exit 2; }
# Framework-dependent on the ASP.NET runtime image, linux-x64 native assets only, no apphost (the image runs
# `dotnet Service.dll`), Release.
exec dotnet publish "$project" -c Release -r linux-x64 --self-contained false -p:UseAppHost=false \
  -o "$out" -nologo -v q -clp:NoSummary
