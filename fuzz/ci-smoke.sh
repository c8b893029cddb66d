#!/usr/bin/env bash
# CI smoke test: builds every fuzz target on the stable toolchain and runs each for
# a few seconds, so the targets never rot. Called from .ci/run. A crash fails it.
#
#   fuzz/ci-smoke.sh [SECONDS]    (default 10 per target)
set -euo pipefail
cd "$(dirname "$0")"
exec ./run.sh "${1:-10}"
