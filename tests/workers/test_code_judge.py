"""Code-as-judge: results of every type, the documented context, and escape attempts through the
whole judge (the dialect check, the runner and the box). The box on its own — programs that got
past the language layers, the review's cross-tenant programs — is tests/workers/test_sandbox_box.py."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from workers.judges.code import code_context, judge_code
from workers.judges.sandbox import Sandbox, SandboxConfig

CONTEXT = {
    "call": {"id": 7, "call_identifier": "c-7", "observation_type": "voice"},
    "transcript": [{"role": "AI Assistant", "content": "Hello", "start_time": 0.5, "end_time": 1.0}],
    "standard_metrics": {"latency_ms": {"average_ms": 850, "p95_ms": 1200}},
    "llm_metrics": {"Polite": {"result": True, "explanation": "said please"}},
    "duration_seconds": 61.0,
}


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox(SandboxConfig(timeout_seconds=2.0, memory_mb=256))
    box.verify()
    return box


def metric(code: str, result_type: str = "numeric", **extra) -> dict:
    return {"metric_id": 1, "name": "m", "kind": "code", "result_type": result_type, "code": code, **extra}


@pytest.mark.parametrize("code, result_type, expected", [
    ('metric["result"] = context["standard_metrics"]["latency_ms"]["average_ms"] <= 1000', "boolean", True),
    ('metric["result"] = 5 if context["llm_metrics"]["Polite"]["result"] else 1', "rating", 5),
    ('metric["result"] = "short" if context["duration_seconds"] < 120 else "long"', "enum", "short"),
    ('metric["result"] = sum(len(t["content"]) for t in context["transcript"])', "numeric", 5),
    ('turns = [t for t in context["transcript"] if t["role"] == "AI Assistant"]\n'
     'metric["result"] = round(sum(t["end_time"] - t["start_time"] for t in turns), 3)', "numeric", 0.5),
])
def test_each_result_type(sandbox, code, result_type, expected):
    verdict = judge_code(sandbox, metric(code + '\nmetric["explanation"] = "ok"', result_type,
                                         enum_values=["short", "long"]), CONTEXT)
    assert (verdict.status, verdict.result, verdict.explanation) == ("computed", expected, "ok")


def test_structured_output_is_returned_and_checked(sandbox):
    good = judge_code(sandbox, metric('metric["result"] = 1\nstructured_output["name"] = "latency"\n'
                                      'structured_output["value"] = 850\n'
                                      'structured_output["classification"] = "meets_expectations"'), CONTEXT)
    assert good.structured_output == {"name": "latency", "value": 850, "classification": "meets_expectations"}
    bad = judge_code(sandbox, metric('metric["result"] = 1\nstructured_output["classification"] = "great"'), CONTEXT)
    assert bad.error_code == "invalid_result_type"


@pytest.mark.parametrize("code, result_type", [
    ('metric["explanation"] = "forgot the result"', "numeric"),
    ('metric["result"] = "yes"', "boolean"),
    ('metric["result"] = 7', "rating"),
    ('metric["result"] = 3.5', "rating"),
    ('metric["result"] = "maybe"', "enum"),
    ('metric["result"] = [1, 2]', "numeric"),
    ('metric["result"] = {1, 2}', "numeric"),      # not JSON
    ('metric["result"] = float("inf")', "numeric"),
    ('metric["result"] = 1\nmetric["explanation"] = 42', "numeric"),
])
def test_wrong_results_are_invalid_result_type(sandbox, code, result_type):
    verdict = judge_code(sandbox, metric(code, result_type, enum_values=["a", "b"]), CONTEXT)
    assert (verdict.status, verdict.error_code) == ("failed", "invalid_result_type")


def test_an_exception_reports_its_line(sandbox):
    verdict = judge_code(sandbox, metric('x = 1\ny = context["standard_metrics"]["nope"]\n'), CONTEXT)
    assert verdict.error_code == "code_error"
    assert verdict.error_message.startswith("line 2: KeyError")


def test_the_context_is_built_from_the_call_and_its_results():
    call = {"id": 3, "workspace_id": 9, "call_identifier": "x", "agent_id": 4, "observation_type": "voice",
            "call_direction": "inbound", "call_timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            "duration_seconds": None, "recording_info": {"duration_seconds": 42.5}, "metadata": {"k": "v"},
            "transcript": CONTEXT["transcript"], "transcript_source": "provided"}
    standard = [{"metric_key": "latency_ms", "status": "computed", "result_data": {"average_ms": 1}},
                {"metric_key": "talk_ratio", "status": "failed", "result_data": None}]
    custom = [{"name": "Polite", "kind": "llm", "status": "computed", "result": True, "explanation": "e"},
              {"name": "Rude", "kind": "llm", "status": "failed", "result": None, "explanation": None}]
    context = code_context(call, standard, custom)
    assert context["call"]["client_id"] == 9 and context["call"]["call_timestamp"] == "2026-01-02T03:04:05+00:00"
    assert context["standard_metrics"] == {"latency_ms": {"average_ms": 1}}
    assert context["llm_metrics"] == {"Polite": {"result": True, "explanation": "e"}}
    assert context["duration_seconds"] == 42.5
    json.dumps(context)  # what the sandbox receives must be plain JSON


# ---- the security suite: every attempt ends failed with its code, and we keep running ---------

ESCAPES = [
    # imports in every spelling
    ("import os", "code_forbidden"),
    ("from os import system", "code_forbidden"),
    ("import importlib as i", "code_forbidden"),
    ("__import__('os').system('id')", "code_forbidden"),
    ("m = __builtins__['__import__']('os')", "code_forbidden"),
    # files, evaluation of strings
    ("open('/etc/passwd').read()", "code_forbidden"),
    ("eval('1+1')", "code_forbidden"),
    ("exec('import os')", "code_forbidden"),
    ("compile('import os', 'x', 'exec')", "code_forbidden"),
    # dunder walks
    ("x = ().__class__.__mro__[1].__subclasses__()", "code_forbidden"),
    ("x = [].__class__.__base__", "code_forbidden"),
    ("def f(): pass\nx = f.__globals__", "code_forbidden"),
    ("x = (lambda: 0).__code__", "code_forbidden"),
    ("x = __builtins__", "code_forbidden"),
    ("x = __loader__", "code_forbidden"),
    ("x = context._data", "code_forbidden"),
    # generator / coroutine / traceback frames (CVE-2023-37271 family)
    ("g = (i for i in [1])\nx = g.gi_frame.f_back.f_globals", "code_forbidden"),
    ("def f():\n    yield 1\nx = f().gi_code", "code_forbidden"),
    ("try:\n    1/0\nexcept Exception as e:\n    x = e.__traceback__.tb_frame", "code_forbidden"),
    # attribute names computed at run time, format-string attribute access
    ("x = getattr((), '__cl' + 'ass__')", "code_forbidden"),
    ("x = vars()", "code_forbidden"),
    ("x = globals()", "code_forbidden"),
    ("x = '{0.__class__}'.format(1)", "code_forbidden"),
    ("s = '{0.' + '__class__}'\nx = s.format(1)", "code_forbidden"),
    ("x = '{0[0]}'.format_map({})", "code_forbidden"),
    ("x = type(1)", "code_forbidden"),
    ("class A:\n    pass", "code_forbidden"),
    ("try:\n    pass\nexcept* ValueError:\n    pass", "code_forbidden"),
    ("match context:\n    case dict(__class__=c):\n        pass", "code_forbidden"),
    # the review's dialect bypasses (issue 16, finding 4)
    ("x = '{0:{1.__class__}}'.format(1, 2)", "code_forbidden"),          # a field in a nested spec
    ("x = '{0:{1[0]}}'.format(1, [5])", "code_forbidden"),
    ("match 'a':\n    case str(format=f):\n        x = f('{0.__class__}', 1)", "code_forbidden"),
    ("match context:\n    case dict(_x=c):\n        pass", "code_forbidden"),
    ("match context:\n    case dict(gi_frame=c):\n        pass", "code_forbidden"),
    ("match {'a': 1}:\n    case {**__builtins__}:\n        pass", "code_forbidden"),
    ("def f():\n    global __builtins__\n    return 1", "code_forbidden"),
    ("def f():\n    x = 1\n    def g():\n        nonlocal __x\n    return g", "code_forbidden"),
    # names that simply do not exist in the sandbox
    ("x = os", "code_error"),
    ("x = sys.modules", "code_error"),
    # resource exhaustion
    ("while True:\n    pass", "code_timeout"),
    ("x = 0\nfor i in range(10**12):\n    x += i", "code_timeout"),
    ("x = 'a' * (2 * 10**9)", "code_memory_exceeded"),
    ("x = [0] * (10**9)", "code_memory_exceeded"),
    ("def f(n):\n    return f(n + 1)\nf(0)", "code_error"),                 # deep recursion
    ("x = 10 ** 10 ** 8", "code_timeout"),                                # CPU bomb in one bytecode
    ("metric['result'] = 'x' * (5 * 10**6)", "code_output_too_large"),  # output bomb
    ("print('x' * 10**6)\nmetric['result'] = 1", None),                  # print is a no-op: fine
    # what the fixes must still allow
    ("metric['result'] = len('{0:{1}}'.format(7, 5))", None),            # a plain nested width
    ("match {'a': 1}:\n    case {'a': v, **rest}:\n        metric['result'] = v", None),
    ("match 3:\n    case int(real=r):\n        metric['result'] = r", None),
    ("n = 0\ndef f():\n    global n\n    n = 4\nf()\nmetric['result'] = n", None),
]


@pytest.mark.parametrize("code, expected", ESCAPES, ids=[c.splitlines()[0][:40] for c, _ in ESCAPES])
def test_escape_attempts_fail_with_their_code(sandbox, code, expected):
    verdict = judge_code(sandbox, metric(code), CONTEXT)
    if expected is None:
        assert verdict.status == "computed"
    else:
        assert (verdict.status, verdict.error_code) == ("failed", expected), verdict.error_message
    assert judge_code(sandbox, metric("metric['result'] = 2"), CONTEXT).result == 2  # still working
