"""Structural contracts: the catalogue matches the registry, statuses are data, imports run one way."""
import subprocess
import sys
from pathlib import Path

from app.catalogue import STANDARD_KEYS
from app.status import ANALYSIS_TRANSITIONS, BRANCH_TRANSITIONS, RESULT_TRANSITIONS, can_transition
from workers.metrics.registry import REGISTRY


def test_catalogue_and_registry_list_the_same_metrics():
    assert list(REGISTRY) == list(STANDARD_KEYS)


def test_one_pipeline_task_name_and_one_api_prefix():
    """calls.analyze is sent by the web by name and registered by the worker: one string."""
    from app.api import PREFIX
    from app.api.openapi import PREFIX as OPENAPI_PREFIX
    from app.paths import API_PREFIX
    from app.queue import ANALYZE_TASK
    from workers import pipeline

    assert pipeline.ANALYZE is ANALYZE_TASK
    assert PREFIX is API_PREFIX and OPENAPI_PREFIX is API_PREFIX


def test_the_workers_speaking_roles_are_api_roles():
    from app.api.schemas import ROLES
    from workers.metrics.inputs import ROLE_OF, SPEAKERS

    assert set(SPEAKERS) <= set(ROLES) and {ROLE_OF[p] for p in SPEAKERS.values()} == set(SPEAKERS)


def test_transitions():
    assert can_transition(ANALYSIS_TRANSITIONS, "pending", "computed")
    assert not can_transition(ANALYSIS_TRANSITIONS, "computed", "failed")
    assert not can_transition(RESULT_TRANSITIONS, "computed", "failed")  # a result is written once
    assert can_transition(BRANCH_TRANSITIONS["audio_branch"], "fetched", "failed")
    assert not can_transition(BRANCH_TRANSITIONS["transcript_branch"], "done", "pending")


def test_import_contracts_hold():
    """import-linter: app never imports workers; metrics/audio stay pure; views skip the db."""
    root = Path(__file__).resolve().parents[2]
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_web_process_does_not_load_worker_or_audio_code():
    code = ("import sys; import app; from app.api import register_api; "
            "bad = [m for m in sys.modules if m.startswith(('workers', 'av', 'numpy'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
