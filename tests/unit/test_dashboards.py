"""The Grafana dashboard and the Prometheus alert rules in deploy/ (docs/operations.md#dashboards-and-alerts)
name only series callscope exports: a metric renamed in app/telemetry.py fails here, not on a
blank panel or an alert that can never fire."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from app import telemetry
from tests.support.prometheus import parse

ROOT = Path(__file__).resolve().parents[2]
SERIES = re.compile(r"\bcallscope_[a-z0-9_]+")


def exported() -> set[str]:
    """Every sample name callscope can export: the families of app/telemetry.py (with the
    suffixes their type adds) and the backlog collector's gauges."""
    names = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("callscope_"):
            continue
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [""])
        names |= {family.name + suffix for suffix in suffixes}
    backlog = CollectorRegistry()
    backlog.register(telemetry.BacklogCollector(lambda: telemetry.Backlog({"control": 1}, {"0-1m": 1}, 1.0, (1, 1.0))))
    names |= {name for name, _ in parse(generate_latest(backlog).decode())}
    return names


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((ROOT / "deploy/grafana/callscope.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict]:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_every_series_the_dashboard_and_the_alerts_use_is_exported():
    known = exported()
    used = {name for expr in dashboard_expressions() + [r["expr"] for r in alert_rules()] for name in SERIES.findall(expr)}
    assert used and used <= known, sorted(used - known)


def test_the_dashboard_shows_the_backlog_the_api_and_every_worker_series():
    used = {name for expr in dashboard_expressions() for name in SERIES.findall(expr)}
    for series in ("callscope_queue_depth", "callscope_calls_pending", "callscope_oldest_pending_call_age_seconds",
                   "callscope_http_request_duration_seconds_bucket", "callscope_stage_duration_seconds_bucket",
                   "callscope_stage_failures_total", "callscope_task_retries_total",
                   "callscope_stage_redeliveries_total", "callscope_provider_request_duration_seconds_bucket"):
        assert series in used, series


def test_the_alerts_cover_a_growing_backlog_a_failing_stage_and_an_old_pending_call():
    rules = {rule["alert"]: rule for rule in alert_rules()}
    assert "callscope_queue_depth" in rules["CallscopeBacklogGrowing"]["expr"]
    assert "callscope_stage_runs_total" in rules["CallscopeStageFailureRate"]["expr"]
    assert "callscope_oldest_pending_call_age_seconds" in rules["CallscopeOldestPendingCall"]["expr"]
    for rule in rules.values():
        assert rule["for"] and rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]
