"""Scaling figures, run by tests/bench/scaling.sh (which starts Postgres and Redis and sets the
CALLSCOPE_* environment): calls analysed per minute with 1, 2 and 4 worker processes of each
kind, for transcript-only and recording-only calls, and the per-call cost of the record.

For each count N and each kind of call: one Celery worker per kind of work the calls need (the
Procfile's profiles: control, audio, transcription, code judges), each with `--concurrency N`;
a warm-up of N calls; then a backlog of calls submitted at once through the API (in-process,
with its outbox relay thread), timed from the first submission to the last call final. The
recordings are the bundled sample call (37 s, stereo, 8 kHz WAV) served from loopback.

Per-call cost, measured over the timed backlog only: Postgres statements and the rows they
returned or changed (pg_stat_statements, BEGIN/COMMIT included, the bench's own polling
excluded), rows written (pg_stat_database), WAL bytes (pg_stat_wal), Redis commands (INFO
commandstats: publishes, the workers' consuming and acknowledging, the rate limiter), bytes
stored (the recording object — the same bytes on S3 as in the local store used here — and
the growth of the call's tables and indexes).
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "sample"
MARK = "/* scaling-bench */"  # the bench's own queries, left out of the per-call statement count

# kind → (queues, prefetch): the Procfile's worker profiles
KINDS = {"control": ("control,calls", 4), "audio": ("audio", 1), "transcription": ("transcription", 1),
         "judge": ("code_judges", 1)}
SCENARIOS = {
    # transcript-only calls never reach the audio or transcription queues; nothing to transcribe
    "transcript-only": (("control", "judge"), "none"),
    # recording-only: the audio stage transcribes, so it goes to the transcription queue
    "recording-only": (("control", "audio", "transcription", "judge"), "local"),
}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_recordings() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SAMPLE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_worker(kind: str, count: int, transcriber: str, logs: Path) -> subprocess.Popen:
    queues, prefetch = KINDS[kind]
    env = {**os.environ, "CALLSCOPE_TRANSCRIBER": transcriber, "CALLSCOPE_CODE_JUDGE_ISOLATION": "off",
           "CALLSCOPE_LOG_LEVEL": "INFO",  # the worker says "ready." at INFO
           "CALLSCOPE_ASR_THREADS": "1"}
    log = open(logs / f"{kind}.log", "wb")  # noqa: SIM115 (the worker writes to it while it lives)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--queues", queues,
         "--hostname", f"{kind}@%h", "--pool", "prefork", "--concurrency", str(count),
         "--prefetch-multiplier", str(prefetch), "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(procs: dict[str, subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + 180
    for kind, proc in procs.items():
        while "ready." not in (logs / f"{kind}.log").read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"worker {kind} did not start:\n{(logs / f'{kind}.log').read_text()[-2000:]}")
            time.sleep(0.2)


def stop(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        os.killpg(proc.pid, 15)
    for proc in procs.values():
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def rss_mb(procs: dict[str, subprocess.Popen]) -> dict[str, int]:
    """Resident memory of each worker (main process and its pool processes), MB."""
    children: dict[int, list[int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))

    def tree_kb(pid: int) -> int:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
        except (OSError, StopIteration):
            kb = 0
        return kb + sum(tree_kb(child) for child in children.get(pid, []))

    return {kind: tree_kb(proc.pid) // 1024 for kind, proc in procs.items()}


class Record:
    """Counters of the record's stores, read before and after the timed backlog."""

    QUERIES = 5  # transactions one read() runs in the measured database
    def __init__(self, admin_url: str, broker_url: str, storage_dir: Path):
        self.admin = psycopg.connect(admin_url, autocommit=True)
        self.broker, self.storage = redis.Redis.from_url(broker_url), storage_dir

    def reset(self) -> None:
        self.admin.execute(f"{MARK} SELECT pg_stat_statements_reset()")
        self.broker.config_resetstat()

    def read(self) -> dict:
        db = self.admin.execute(
            f"{MARK} SELECT tup_inserted, tup_updated, tup_deleted, xact_commit FROM pg_stat_database"
            " WHERE datname = current_database()").fetchone()
        wal = self.admin.execute(f"{MARK} SELECT wal_bytes FROM pg_stat_wal").fetchone()[0]
        statements = self.admin.execute(
            f"{MARK} SELECT coalesce(sum(calls), 0), coalesce(sum(rows), 0) FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND query NOT LIKE %s", (f"%{MARK}%",)).fetchone()
        tables = self.admin.execute(
            f"{MARK} SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_stat_user_tables").fetchone()[0]
        commands = {k.removeprefix("cmdstat_"): v["calls"] for k, v in self.broker.info("commandstats").items()}
        stored = sum(f.stat().st_size for f in self.storage.rglob("*") if f.is_file()) if self.storage.exists() else 0
        return {"inserted": db[0], "updated": db[1], "deleted": db[2], "commits": db[3], "wal": int(wal),
                "statements": int(statements[0]), "rows": int(statements[1]), "table_bytes": int(tables),
                "redis": commands, "stored": stored}


def submit(client, headers, body: dict, n: int, tag: str) -> list[int]:
    ids = []
    for i in range(n):
        response = client.post("/api/public/v1/calls", json={**body, "call_identifier": f"{tag}-{i}"}, headers=headers)
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def wait_final(conn, ids: list[int], timeout: float, polls: list[int] | None = None) -> tuple[float, dict[str, int]]:
    """Poll until no call of `ids` is pending; `polls` counts the queries (each a transaction
    of its own, which pg_stat_database counts with the calls' commits)."""
    deadline = time.monotonic() + timeout
    while True:
        if polls is not None:
            polls[0] += 1
        rows = conn.execute(f"{MARK} SELECT analysis_status, count(*) FROM calls WHERE id = ANY(%s)"
                            " GROUP BY analysis_status", (ids,)).fetchall()
        statuses = dict(rows)
        if not statuses.get("pending") or time.monotonic() > deadline:
            return time.monotonic(), statuses
        time.sleep(0.1)


def run(scenario: str, count: int, calls: int, stack: dict) -> dict:
    kinds, transcriber = SCENARIOS[scenario]
    logs = Path(os.environ["SCALING_STATE"]) / f"logs-{scenario}-{count}"
    logs.mkdir(parents=True, exist_ok=True)
    # the code-judge worker sends nothing the transcriber setting routes: it runs without the
    # speech model, as docs/operations.md#worker-profiles advises
    procs = {kind: start_worker(kind, count, "none" if kind == "judge" else transcriber, logs) for kind in kinds}
    try:
        wait_ready(procs, logs)
        body = stack["bodies"][scenario]
        tag = f"{scenario}-{count}-{time.time_ns()}"
        wait_final(stack["conn"], submit(stack["client"], stack["headers"], body, count * 2, f"warm-{tag}"), 600)
        stack["record"].reset()
        before = stack["record"].read()
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        ids = submit(stack["client"], stack["headers"], body, calls, tag)
        polls = [Record.QUERIES]  # the bench's own transactions: its polls and one read's queries
        ended, statuses = wait_final(stack["conn"], ids, 1800, polls)
        after = stack["record"].read()
        memory = rss_mb(procs)
    finally:
        stop(procs)
    seconds = ended - started
    after["commits"] -= polls[0]
    per_call = {key: (after[key] - before[key]) / calls for key in
                ("statements", "rows", "inserted", "updated", "deleted", "commits", "wal", "table_bytes", "stored")}
    redis_calls = {k: after["redis"].get(k, 0) - before["redis"].get(k, 0) for k in after["redis"]}
    return {"scenario": scenario, "count": count, "calls": calls, "seconds": seconds, "per_minute": calls / seconds * 60,
            "statuses": statuses, "per_call": per_call, "redis": {k: v / calls for k, v in redis_calls.items() if v},
            "memory_mb": memory, "load": (load_before, os.getloadavg()[0])}


def bodies(stack: dict, recording_url: str) -> dict:
    transcript = json.loads((SAMPLE / "sample-call.json").read_text())["transcript"]
    base = {"agent_id": stack["agent"], "client_id": stack["workspace"]}
    return {"transcript-only": {**base, "transcript": transcript},
            "recording-only": {**base, "recording_url": recording_url}}


def print_report(results: list[dict]) -> None:
    cpus = os.cpu_count()
    print(f"\nmachine: {cpus} cores (shared). {len(KINDS)} kinds × 4 processes is far more than {cpus} cores: at 4 the"
          " processes take turns on the same cores, so any gain over 2 is scheduling, not capacity.")
    print(f"\n{'calls':<16} {'procs/kind':>10} {'calls':>6} {'seconds':>8} {'calls/min':>10} {'call-min/min':>13}"
          f"  {'final statuses':<26} {'load 1m':>12}  worker RSS MB")
    for r in results:
        minutes = 0.0 if r["scenario"] == "transcript-only" else 36.98 / 60
        call_minutes = f"{r['per_minute'] * minutes:.1f}" if minutes else "-"
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))
        load = f"{r['load'][0]:.1f}→{r['load'][1]:.1f}"
        memory = " ".join(f"{k} {v}" for k, v in r["memory_mb"].items())
        print(f"{r['scenario']:<16} {r['count']:>10} {r['calls']:>6} {r['seconds']:>8.1f} {r['per_minute']:>10.1f}"
              f" {call_minutes:>13}  {statuses:<26} {load:>12}  {memory}")
    print("\nper call (the timed backlog of each run divided by its calls):")
    print(f"{'calls':<16} {'procs/kind':>10} {'PG stmts':>9} {'PG rows':>8} {'ins/upd/del':>14} {'commits':>8}"
          f" {'WAL KB':>7} {'table KB':>9} {'object KB':>10} {'Redis cmds':>11}  top Redis commands")
    for r in results:
        p = r["per_call"]
        top = sorted(r["redis"].items(), key=lambda kv: -kv[1])[:5]
        print(f"{r['scenario']:<16} {r['count']:>10} {p['statements']:>9.1f} {p['rows']:>8.1f}"
              f" {p['inserted']:>4.0f}/{p['updated']:>4.0f}/{p['deleted']:>4.0f} {p['commits']:>8.1f}"
              f" {p['wal'] / 1024:>7.1f} {p['table_bytes'] / 1024:>9.1f} {p['stored'] / 1024:>10.1f}"
              f" {sum(r['redis'].values()):>11.1f}  " + ", ".join(f"{k} {v:.1f}" for k, v in top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcript-calls", type=int, default=1000)
    parser.add_argument("--recording-calls", type=int, default=24)
    parser.add_argument("--counts", default="1,2,4")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()

    from app import create_app
    from app.db.pool import connect
    from app.service import admin

    # The only web process here, so its relay leads and every call wakes it; its poll (20 empty
    # claims a second by default, a fixed cost whatever the traffic) is turned off so that the
    # per-call figures hold only what calls cost — the README adds the poll to the model.
    app = create_app(outbox_relay="web", outbox_poll_seconds="3600")
    settings = app.extensions["callscope"].settings
    with connect(settings.database_url) as conn:
        ws = admin.create_workspace(conn, "scaling")
        agent = admin.create_agent(conn, ws["id"], "bot")
        token = admin.issue_token(conn, settings, ws["id"])
    server = serve_recordings()
    stack = {"client": app.test_client(), "headers": {"Authorization": f"Bearer {token['token']}"},
             "workspace": ws["id"], "agent": agent["id"],
             "conn": psycopg.connect(settings.database_url, autocommit=True),
             "record": Record(os.environ["SCALING_ADMIN_URL"], settings.broker_url, Path(settings.storage_dir))}
    stack["bodies"] = bodies(stack, f"http://127.0.0.1:{server.server_address[1]}/sample-call.wav")
    results = []
    for scenario in args.scenarios.split(","):
        calls = args.transcript_calls if scenario == "transcript-only" else args.recording_calls
        for count in (int(c) for c in args.counts.split(",")):
            result = run(scenario, count, calls, stack)
            results.append(result)
            print(f"{scenario} × {count}: {result['per_minute']:.1f} calls/min ({result['statuses']})", flush=True)
    print_report(results)


if __name__ == "__main__":
    main()
