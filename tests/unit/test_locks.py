"""The pinned requirement sets of the Docker images (deploy/requirements-*.lock, deploy/lock.sh)
pin every dependency pyproject.toml declares, and the web set holds none of the worker extra."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=\[ ;!~]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pinned(lock: str) -> dict[str, str]:
    lines = (ROOT / "deploy" / lock).read_text().splitlines()
    return {_name(line): line.split("==", 1)[1] for line in lines if "==" in line and not line.startswith("#")}


def test_locks_pin_every_declared_dependency_and_the_web_lock_no_worker_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    worker = {_name(r) for r in project["optional-dependencies"]["worker"]}
    web_lock, worker_lock = _pinned("requirements-web.lock"), _pinned("requirements-worker.lock")
    assert core <= set(web_lock), core - set(web_lock)
    assert core | worker <= set(worker_lock), (core | worker) - set(worker_lock)
    assert not worker & set(web_lock), worker & set(web_lock)
    shared = set(web_lock) & set(worker_lock)
    assert {n for n in shared if web_lock[n] != worker_lock[n]} == set()  # one version of each


def test_the_no_deps_set_is_hash_pinned_worker_only_and_installed_without_its_dependencies():
    nodeps = [line for line in (ROOT / "deploy" / "requirements-worker-nodeps.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert nodeps and all(re.fullmatch(r"[a-z0-9-]+==[\w.]+ --hash=sha256:[0-9a-f]{64}", line) for line in nodeps)
    assert not {_name(line) for line in nodeps} & set(_pinned("requirements-web.lock"))
    # every worker install adds it with --no-deps (its declared torch must never come along)
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install --no-deps -r deploy/requirements-worker-nodeps.txt" in dockerfile
    assert "--no-deps -r deploy/requirements-worker-nodeps.txt" in (ROOT / "deploy" / "lib.sh").read_text()
