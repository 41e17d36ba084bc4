"""The program the code-judge sandbox runs (stdlib only; its source is passed with `python -I -S -c`).

It reads {"code", "context"} as JSON on stdin, runs the code with a small set of builtins and
writes one JSON object on stdout: {"ok": true, "metric": …, "structured_output": …} or
{"ok": false, "error": "exception" | "memory" | "output" | "unserialisable", "line", "message"}.
The parent process (sandbox.py) owns every limit; this file only reports what happened.
"""
import json
import sys

MAX_OUTPUT_BYTES = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 20
_SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float",
    "frozenset", "int", "isinstance", "iter", "len", "list", "map", "max", "min", "next", "ord",
    "pow", "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple",
    "zip", "True", "False", "None",
    "Exception", "ArithmeticError", "AssertionError", "IndexError", "KeyError", "LookupError",
    "RuntimeError", "StopIteration", "TypeError", "ValueError", "ZeroDivisionError",
)


def _print(*args, **kwargs):
    """print() is accepted and discarded: stdout carries the result."""


def _builtins():
    import builtins
    safe = {name: getattr(builtins, name) for name in _SAFE_BUILTIN_NAMES}
    safe["print"] = _print
    return safe


def _user_line(exc):
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<metric>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _emit(report):
    sys.stdout.write(report)
    sys.stdout.flush()


def main():
    job = json.loads(sys.stdin.buffer.read())
    metric: dict = {}
    structured: dict = {}
    scope = {"__builtins__": _builtins(), "context": job["context"], "metric": metric,
             "structured_output": structured}
    try:
        exec(compile(job["code"], "<metric>", "exec"), scope)
    except MemoryError:
        _emit('{"ok": false, "error": "memory", "line": null, "message": "MemoryError"}')
        return
    except BaseException as exc:  # the user's exception, whatever it is, is a result to report
        message = f"{type(exc).__name__}: {exc}"[:500]
        _emit(json.dumps({"ok": False, "error": "exception", "line": _user_line(exc), "message": message}))
        return
    try:
        report = json.dumps({"ok": True, "metric": metric, "structured_output": structured}, allow_nan=False)
    except MemoryError:
        report = '{"ok": false, "error": "memory", "line": null, "message": "MemoryError"}'
    except (TypeError, ValueError, RecursionError) as exc:
        report = json.dumps({"ok": False, "error": "unserialisable", "line": None, "message": str(exc)[:500]})
    if len(report) > MAX_OUTPUT_BYTES:
        report = json.dumps({"ok": False, "error": "output", "line": None,
                             "message": f"output of {len(report)} bytes exceeds {MAX_OUTPUT_BYTES}"})
    _emit(report)


main()
