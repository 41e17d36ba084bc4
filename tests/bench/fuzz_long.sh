#!/usr/bin/env bash
# A long fuzzing run of the whole API against its OpenAPI description (not part of the suite).
#   tests/bench/fuzz_long.sh [examples per operation, default 5000]
set -euo pipefail
cd "$(dirname "$0")/../.."
CALLSCOPE_FUZZ_EXAMPLES=${1:-5000} exec bash deploy/test.sh -q -s tests/api/test_fuzz.py
