#!/usr/bin/env bash
# Installs the reference Jinja renderer into tools/jinja-reference (idempotent): @huggingface/jinja pinned in its
# package-lock.json, run by node in the chat-template differential tests (tests/Platform.Inference.Tests).
#   scripts/jinja-reference.sh install
set -euo pipefail
cd "$(dirname "$0")/../tools/jinja-reference"
[ "${1:-install}" = install ] || { echo "usage: scripts/jinja-reference.sh install" >&2; exit 2; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get install -y -qq nodejs npm >/dev/null
fi
[ -f node_modules/@huggingface/jinja/package.json ] || npm ci --no-audit --no-fund --loglevel=error
node -e 'console.log("@huggingface/jinja " + require("./node_modules/@huggingface/jinja/package.json").version)'
