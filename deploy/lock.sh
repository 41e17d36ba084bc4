#!/usr/bin/env bash
# Regenerate the pinned requirement sets the Docker images install (deploy/Dockerfile): one for
# the web image (the core dependencies) and one for the worker image (core + the `worker`
# extra), resolved for Python 3.11 on Linux, the images' platform. Run after changing
# dependencies in pyproject.toml and commit both files; tests/unit/test_locks.py checks that
# every declared dependency is pinned and that the web set holds no worker package.
# deploy/requirements-worker-nodeps.txt is pinned by hand and installed with --no-deps on top of
# the worker set (its packages declare dependencies the worker must not get, such as torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${CALLSCOPE_VENV:-.venv}/bin/python
"$PY" -m pip install -q pip-tools
common=(--quiet --no-emit-index-url --no-emit-find-links --strip-extras --allow-unsafe)
"$PY" -m piptools compile "${common[@]}" -o deploy/requirements-web.lock pyproject.toml
"$PY" -m piptools compile "${common[@]}" --extra worker -o deploy/requirements-worker.lock pyproject.toml
