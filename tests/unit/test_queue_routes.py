"""The queues (app/queue.py, docs/pipeline.md#queues): every task the worker registers has its
route, the audio stage goes where its work is, and the worker profiles of the Procfile and the
compose file between them consume every queue — the legacy one included."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app import queue as q
from tests.conftest import make_settings
from workers import pipeline

ROOT = Path(__file__).resolve().parents[2]
CELERY = ("celery", "-A", "workers.celery_app", "worker")


def worker_commands() -> dict[str, list[str]]:
    """Procfile entries and compose services that run a Celery worker: name -> argv."""
    commands = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        argv = [word for word in shlex.split(command) if "=" not in word or word.startswith("--")]
        if tuple(argv[:4]) == CELERY:
            commands[f"Procfile:{name}"] = argv
    services = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text())["services"]
    for name, service in services.items():
        if tuple(service.get("command", [])[:4]) == CELERY:
            commands[f"compose:{name}"] = service["command"]
    return commands


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_every_task_the_worker_registers_has_a_route():
    env = {"CALLSCOPE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
           "CALLSCOPE_BROKER_URL": "redis://127.0.0.1:1/0", "PATH": ""}
    script = ("import json, workers.tasks; from workers.celery_app import celery; "
              "print(json.dumps(sorted(n for n in celery.tasks if not n.startswith('celery.'))))")
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert set(json.loads(out.strip().splitlines()[-1])) == set(q.ROUTES)


@pytest.mark.parametrize(("task", "transcribing", "queue"), [
    (pipeline.ANALYZE, False, "control"), (pipeline.TRANSCRIPT_METRICS, False, "control"),
    (pipeline.FINALIZE, False, "control"), (pipeline.SWEEP, False, "control"),
    (pipeline.DELIVER_WEBHOOK, False, "control"), (pipeline.FETCH_RECORDING, True, "audio"),
    (pipeline.AUDIO_METRICS, False, "audio"), (pipeline.AUDIO_METRICS, True, "transcription"),
    (pipeline.LLM_JUDGES, True, "llm_judges"), (pipeline.CODE_JUDGES, False, "code_judges"),
])
def test_each_kind_of_work_has_its_queue(task, transcribing, queue):
    assert q.queue_for(task, transcribing) == queue


def test_the_audio_stage_of_a_call_to_transcribe_goes_to_the_transcription_workers():
    to_transcribe = {"transcription_status": "pending"}
    assert pipeline.route(pipeline.AUDIO_METRICS, to_transcribe, transcriber_on=True) == "transcription"
    assert pipeline.route(pipeline.AUDIO_METRICS, to_transcribe, transcriber_on=False) == "audio"
    assert pipeline.route(pipeline.AUDIO_METRICS, {"transcription_status": "completed"}, True) == "audio"


def test_every_queue_is_declared_so_a_worker_without_queues_consumes_them_all():
    config = q.celery_config(make_settings("postgresql://x@127.0.0.1/x", "redis://127.0.0.1:1/0"))
    assert [queue.name for queue in config["task_queues"]] == list(q.QUEUES)
    assert set(q.ROUTES.values()) | {q.TRANSCRIPTION_QUEUE, q.LEGACY_QUEUE} == set(q.QUEUES)
    assert config["task_default_queue"] == q.CONTROL_QUEUE


@pytest.mark.parametrize("source", ["Procfile", "compose"])
def test_the_worker_profiles_consume_every_queue_each_sized_for_its_work(source):
    profiles = {name: argv for name, argv in worker_commands().items() if name.startswith(source)
                and option(argv, "--queues")}
    consumed = [queue for argv in profiles.values() for queue in (option(argv, "--queues") or "").split(",")]
    assert sorted(consumed) == sorted(q.QUEUES)  # each queue once, the legacy one included
    for name, argv in profiles.items():
        assert option(argv, "--concurrency") and option(argv, "--prefetch-multiplier"), name
    by_queue = {option(argv, "--queues"): argv for argv in profiles.values()}
    assert option(by_queue["control,calls"], "--queues") == "control,calls"  # drains the old layout
    assert option(by_queue["llm_judges"], "--pool") == "threads"  # network-bound: many threads
    assert int(option(by_queue["llm_judges"], "--concurrency") or 0) >= 8
    assert option(by_queue["audio"], "--prefetch-multiplier") == "1"
    assert option(by_queue["transcription"], "--prefetch-multiplier") == "1"


def test_the_all_in_one_worker_of_deploy_dev_consumes_every_queue():
    """deploy/dev.sh runs the Procfile's `worker`: no --queues, so every declared queue."""
    assert option(worker_commands()["Procfile:worker"], "--queues") is None
    assert " worker " in (ROOT / "deploy/dev.sh").read_text().split("honcho\" start", 1)[1].splitlines()[0]
