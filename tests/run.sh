#!/usr/bin/env bash
# Set up everything the test suite needs (system packages, a virtualenv, the project with its test
# and benchmark extras), then run the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Browser and Redis tests must run, not skip: this script installs what they need or fails loudly.
export CI="${CI:-true}"

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "tests/run.sh: installing ${missing[*]} with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
for tool in chromium redis-server; do
  command -v "$tool" >/dev/null 2>&1 || { echo "tests/run.sh: $tool is required and could not be installed" >&2; exit 1; }
done

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,bench]'

# The default KB: lint, its answer suite, then the visitor dev split and the holdout (never tuned on), each with
# a floor a little under what was last measured (docs/benchmarks.md), then every test.
.venv/bin/faqbot lint --strict
.venv/bin/faqbot test --min-accuracy 0.93
.venv/bin/faqbot test knowledge/tests-visitors.yaml --min-accuracy 0.75
.venv/bin/faqbot test knowledge/tests-holdout.yaml --min-accuracy 0.72
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
