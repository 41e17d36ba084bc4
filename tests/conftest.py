"""Shared fixtures. Unit tests need nothing; tests marked `services` use the Postgres, Redis
and S3 endpoint that deploy/test.sh starts (their URLs arrive as CALLSCOPE_TEST_* variables)."""
from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from app.db.migrate import apply_migrations
from app.settings import Settings

JWT_KEYS = "test-key:" + "k" * 48
SECRET = "s" * 48
LOOPBACK_ONLY = "127.0.0.0/8,::1/128"
TABLES = ("task_outbox", "user_sessions", "user_invites", "users",
          "analysis_runs", "reanalysis_jobs", "webhook_attempts", "webhook_deliveries", "webhook_endpoints",
          "integration_signatures",
          "call_status_history", "metric_results", "custom_results", "stage_runs", "calls", "erasures",
          "custom_metric_versions", "custom_metrics",
          "integrations", "agents", "api_keys", "workspaces")


def service_url(name: str) -> str:
    value = os.environ.get(f"CALLSCOPE_TEST_{name}")
    if not value:
        pytest.fail(f"CALLSCOPE_TEST_{name} is not set: run the suite through deploy/test.sh")
    return value


def database_url(dbname: str) -> str:
    base = service_url("DATABASE_URL")
    return base.rsplit("/", 1)[0] + "/" + dbname


def create_database(dbname: str) -> str:
    """A fresh, migrated database owned by the test role."""
    with psycopg.connect(service_url("ADMIN_URL"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{dbname}" OWNER callscope')
    url = database_url(dbname)
    with psycopg.connect(url) as conn:
        apply_migrations(conn)
    return url


def make_settings(database: str, broker: str, **overrides) -> Settings:
    env = {
        "CALLSCOPE_DATABASE_URL": database,
        "CALLSCOPE_BROKER_URL": broker,
        "CALLSCOPE_JWT_KEYS": JWT_KEYS,
        "CALLSCOPE_SECRET_KEY": SECRET,
        "CALLSCOPE_FETCH_NETWORKS": LOOPBACK_ONLY,
        "CALLSCOPE_DB_TIMEOUT_SECONDS": "3",
        # no relay thread per test app: a test that needs tasks published relays them itself
        # (app.relay.drain) or asks for the thread (the end-to-end stack does)
        "CALLSCOPE_OUTBOX_RELAY": "off",
    }
    return Settings.from_env(environ=env, **overrides)


@pytest.fixture(scope="session")
def test_db_url() -> str:
    return create_database("callscope_api_tests")


@pytest.fixture()
def db(test_db_url):
    """A clean database for one test (tables truncated), and a connection to it."""
    with psycopg.connect(test_db_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    from app.db.pool import connect

    with connect(test_db_url) as conn:
        yield conn


@pytest.fixture()
def unique() -> str:
    return uuid.uuid4().hex[:12]
