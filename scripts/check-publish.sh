#!/usr/bin/env bash
# What CI can check of the container images without a container engine: every service that has a Dockerfile
# publishes with the Dockerfile's own command (scripts/publish.sh), its output holds the entry assembly the
# Dockerfile starts, and the images that bake models get them from models/. Prints one "ok"/"FAIL" line per check
# and exits non-zero when one failed.
#   scripts/check-publish.sh [OUTPUT_ROOT]     (default: a temporary folder, removed afterwards)
set -uo pipefail
cd "$(dirname "$0")/.."
root="${1:-}"
if [ -z "$root" ]; then root="$(mktemp -d /tmp/platform-publish.XXXXXX)"; trap 'rm -rf "$root"' EXIT; fi
mkdir -p "$root"
failed=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; failed=1; }

for dockerfile in services/*/Dockerfile; do
  svc="$(basename "$(dirname "$dockerfile")")"
  grep -q "scripts/publish.sh $svc /app" "$dockerfile" || { fail "$svc: Dockerfile does not run scripts/publish.sh $svc /app"; continue; }
  out="$root/$svc"
  if scripts/publish.sh "$svc" "$out" > "$root/$svc.log" 2>&1; then ok "$svc: published"; else fail "$svc: publish failed"; tail -20 "$root/$svc.log"; continue; fi
  entry="$(grep -o 'ENTRYPOINT \["dotnet", "[^"]*"\]' "$dockerfile" | grep -o '"[^"]*\.dll"' | tr -d '"')"
  [ -f "$out/$entry" ] && ok "$svc: $entry present" || fail "$svc: entry assembly '$entry' missing from the output"
  # Every model folder the image bakes must exist in the build context.
  for src in $(grep -o '^COPY --chown=root:root models/[^ ]*' "$dockerfile" | awk '{print $3}'); do
    [ -f "$src/config.json" ] && ok "$svc: bakes $src" || fail "$svc: baked model folder $src has no config.json"
  done
  # The HTTP edge carries no inference: no libtorch, no ONNX Runtime in the gateway's output (the all-in-one host has them).
  if [ "$svc" = "Gateway" ]; then
    native="$(find "$out" \( -iname '*torch*' -o -iname '*onnxruntime*' \) | head -5 | tr '\n' ' ')"
    [ -z "$native" ] && ok "$svc: no libtorch or onnxruntime library" || fail "$svc: inference libraries in the output: $native"
  fi
  rm -rf "$out"
done
exit $failed
