"""LLM-as-judge through any OpenAI-compatible chat-completions endpoint (docs/metrics.md#llm-as-judge).

Protocol, per call:
1. one batched request for all its LLM metrics, with a strict JSON-schema response format and
   temperature 0;
2. if the provider refuses that request (400/404/422: structured output or batching not
   supported), one request per metric, asking for JSON in the prompt (the most portable form),
   `concurrency` at a time;
3. an answer that does not fit its metric's result type is asked again once, alone, with the
   reason; still invalid → `invalid_judge_output`.
429, 5xx, timeouts and connection errors are retried `max_retries` times with exponential
backoff and jitter (Retry-After honoured, capped at 60 s) → then `llm_unavailable`. Other 4xx
(bad key, unknown model) → `llm_request_rejected` at once. Token usage is stored per result:
the usage of the request(s) that produced it, with `batch_size` when a batch shared it.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import requests

from app import telemetry
from app.criteria import coerce_result
from app.status import COMPUTED, FAILED
from workers.failure import RetryPolicy
from workers.judges import prompt
from workers.judges.verdicts import Judgement

log = logging.getLogger(__name__)
_RETRY_AFTER_CAP = 60.0
_REFUSED_STRUCTURE = {400, 404, 422}


class Judge(Protocol):
    def judge(self, transcript: list[dict], metrics: list[dict]) -> dict[int, Judgement]:
        """Verdicts keyed by metric_id for every metric given (never raises for provider errors)."""


class UnconfiguredJudge:
    """No provider configured: every LLM metric fails, clearly (never silently skipped)."""

    def judge(self, transcript: list[dict], metrics: list[dict]) -> dict[int, Judgement]:
        message = "No LLM provider is configured (set CALLSCOPE_LLM_BASE_URL and CALLSCOPE_LLM_MODEL)."
        return {m["metric_id"]: Judgement(FAILED, error_code="llm_not_configured", error_message=message)
                for m in metrics}


class ProviderError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class _Reply:
    answer: dict | None
    usage: dict


class OpenAIJudge:
    def __init__(self, base_url: str, api_key: str, model: str, timeout: float, concurrency: int = 4,
                 max_retries: int = 3, backoff_seconds: float = 1.0, session: requests.Session | None = None):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.timeout, self.concurrency = model, timeout, concurrency
        self.max_retries = max_retries
        self.retry = RetryPolicy(max_retries, backoff_seconds, cap_seconds=_RETRY_AFTER_CAP)
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxy variables: the endpoint is exactly the setting
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def judge(self, transcript: list[dict], metrics: list[dict]) -> dict[int, Judgement]:
        text = prompt.render_transcript(transcript)
        try:
            reply = self._complete(text, metrics, structured=True)
        except ProviderError as exc:
            if exc.status not in _REFUSED_STRUCTURE:
                return {m["metric_id"]: Judgement(FAILED, error_code=exc.code, error_message=exc.message)
                        for m in metrics}
            log.info("provider refused the structured batch; judging metric by metric", extra={"status": exc.status})
            return self._one_by_one(text, metrics)
        usage = {**reply.usage, "batch_size": len(metrics), "requests": 1}
        verdicts, retry = {}, []
        for metric in metrics:
            verdict = _read(metric, reply.answer, usage)
            if verdict.status == COMPUTED:
                verdicts[metric["metric_id"]] = verdict
            else:
                retry.append((metric, verdict.error_message))
        corrections = {m["metric_id"]: reason for m, reason in retry}
        verdicts.update(self._one_by_one(text, [m for m, _ in retry], corrections, usage))
        return verdicts

    def _one_by_one(self, text: str, metrics: list[dict], corrections: dict | None = None,
                    earlier_usage: dict | None = None) -> dict[int, Judgement]:
        if not metrics:
            return {}
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(metrics))) as pool:
            verdicts = pool.map(lambda m: self._judge_alone(text, m, (corrections or {}).get(m["metric_id"]),
                                                            earlier_usage), metrics)
            return {m["metric_id"]: v for m, v in zip(metrics, verdicts)}

    def _judge_alone(self, text: str, metric: dict, correction: str | None, earlier_usage: dict | None) -> Judgement:
        """One metric in its own request; an invalid answer is asked again once (so at most two
        requests, one if this is already the retry after an invalid batched answer)."""
        usage = dict(earlier_usage or {})
        attempts = 1 if correction else 2
        verdict = Judgement(FAILED, error_code="invalid_judge_output")
        for _ in range(attempts):
            try:
                reply = self._complete(text, [metric], structured=False, correction=correction)
            except ProviderError as exc:
                return Judgement(FAILED, error_code=exc.code, error_message=exc.message, usage=usage)
            usage = _add_usage(usage, reply.usage)
            verdict = _read(metric, reply.answer, usage)
            if verdict.status == COMPUTED:
                return verdict
            correction = verdict.error_message
        return verdict

    def _complete(self, text: str, metrics: list[dict], structured: bool, correction: str | None = None) -> _Reply:
        body = {"model": self.model, "temperature": 0, "messages": [
            {"role": "system", "content": prompt.SYSTEM},
            {"role": "user", "content": prompt.user_message(text, metrics, correction)}]}
        if structured:
            body["response_format"] = prompt.response_format(metrics)
        data = self._post(body)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            content = None
        reported = data.get("usage") if isinstance(data, dict) else None
        usage = {k: reported[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")
                 if isinstance(reported, dict) and isinstance(reported.get(k), int)}
        return _Reply(prompt.parse_answer(content), usage)

    def _post(self, body: dict) -> dict:
        for attempt in range(self.max_retries + 1):
            delay = None
            try:
                with telemetry.timed_request("llm") as request:
                    response = self.session.post(self.url, json=body, headers=self.headers, timeout=self.timeout)
                    request["ok"] = response.status_code == 200
            except requests.RequestException as exc:
                error = ProviderError("llm_unavailable", f"LLM request failed: {type(exc).__name__}")
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        return {}
                error = ProviderError("llm_unavailable" if _transient(response.status_code) else "llm_request_rejected",
                                      f"LLM provider answered {response.status_code}", response.status_code)
                if not _transient(response.status_code):
                    raise error
                delay = _retry_after(response)
            if attempt == self.max_retries:
                raise error
            time.sleep(self.retry.delay(attempt, retry_after=delay))
        raise AssertionError("unreachable")


def _transient(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])  # RetryPolicy.delay caps it
    except (KeyError, ValueError):
        return None


def _read(metric: dict, answer: dict | None, usage: dict) -> Judgement:
    """The metric's verdict from a parsed answer; failed invalid_judge_output when it does not fit."""
    entry = (answer or {}).get(prompt.metric_key(metric))
    if not isinstance(entry, dict) or "result" not in entry:
        return Judgement(FAILED, error_code="invalid_judge_output", usage=usage,
                         error_message=f"no {{result, explanation}} for key {prompt.metric_key(metric)}")
    try:
        result = coerce_result(metric["result_type"], entry["result"], metric.get("enum_values"))
    except ValueError as exc:
        return Judgement(FAILED, error_code="invalid_judge_output", usage=usage,
                         error_message=f"result {entry['result']!r}: {exc}")
    explanation = entry.get("explanation")
    return Judgement(COMPUTED, result=result, usage=usage,
                     explanation=explanation if isinstance(explanation, str) else "")


def _add_usage(total: dict, more: dict) -> dict:
    summed = {k: total.get(k, 0) + more.get(k, 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")
              if k in total or k in more}
    return {**total, **summed, "requests": total.get("requests", 0) + 1}
