#!/usr/bin/env bash
# hotato lives in its own virtualenv (it is a peer we measure against, not a dependency of ours);
# its MP3 decode needs ffmpeg on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
ensure_packages ffmpeg:ffmpeg
[ -x .venv-hotato/bin/hotato ] || { python3 -m venv .venv-hotato && .venv-hotato/bin/pip install -q hotato; }
exec "${CALLSCOPE_VENV:-.venv}/bin/python" tests/bench/speed_vs_hotato.py "$@"
