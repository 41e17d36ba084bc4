"""The code-judge sandbox: user code runs in a fresh process the operating system confines.

Layers (any one may fail without the others failing):
1. the dialect check (app/codecheck.py) refuses imports, dunders, introspection → `code_forbidden`;
2. the runner (runner.py) gives the code a handful of builtins and no modules;
3. the process, and this is the boundary: `python -I -S` (no site-packages, no env influence),
   an empty environment, an empty directory it cannot write, rlimits (CPU seconds, address space,
   processes, file size 0, open files, no core dumps), `no_new_privs`, and with `full` isolation
   a fresh network namespace (no interface but a downed loopback), a private mount table with
   the world-writable directories covered by empty read-only tmpfs, and an unprivileged user.
A fresh process per run, so nothing leaks between runs or tenants; the worker only ever reads
one bounded JSON document back.
"""
from __future__ import annotations

import ctypes
import json
import os
import pwd
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

_RUNNER = (Path(__file__).with_name("runner.py")).read_text()
_CLONE_NEWNET, _CLONE_NEWNS = 0x40000000, 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 1, 2, 4, 8, 0x4000, 0x40000
_WRITABLE_DIRS = (b"/tmp", b"/var/tmp", b"/dev/shm", b"/run/lock")  # world-writable on Debian
_PR_SET_NO_NEW_PRIVS = 38
MAX_OUTPUT_BYTES = 1 << 20
_MAX_PROCESSES = 64  # per sandbox uid, across all concurrent runs; the code cannot fork anyway


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here as configured; raised at worker start, never mid-call."""


@dataclass(frozen=True)
class SandboxConfig:
    timeout_seconds: float = 5.0
    memory_mb: int = 256
    isolation: str = "full"          # "full" | "rlimits"
    user: str = "nobody"
    python: str = ""                 # "" = pick the first interpreter the sandbox user can run


@dataclass
class RunReport:
    """What one run ended with: `code` is None on success, else the failure code."""

    code: str | None
    metric: dict = field(default_factory=dict)
    structured_output: dict = field(default_factory=dict)
    line: int | None = None
    message: str = ""
    duration_ms: int = 0


class Sandbox:
    def __init__(self, config: SandboxConfig):
        self.config = config
        self._uid = self._gid = None
        if config.isolation == "full":
            try:
                entry = pwd.getpwnam(config.user)
            except KeyError:
                raise SandboxUnavailable(f"sandbox user {config.user!r} does not exist") from None
            self._uid, self._gid = entry.pw_uid, entry.pw_gid
        self.python = config.python

    def verify(self) -> None:
        """Run a probe program under the real limits; pick the interpreter. Raises
        SandboxUnavailable with what to change (a worker that cannot judge code must not start)."""
        candidates = [self.config.python] if self.config.python else [
            os.path.realpath(sys.executable), "/usr/local/bin/python3", "/usr/bin/python3"]
        failures = []
        for python in dict.fromkeys(candidates):
            if not os.path.exists(python):
                continue
            self.python = python
            report = self.run('metric["result"] = sum(range(10))\nmetric["explanation"] = "probe"', {})
            if report.code is None and report.metric.get("result") == 45:
                return
            failures.append(f"{python}: {report.code} {report.message}")
        hint = ("run the worker as root (it drops to the sandbox user in a new network namespace) "
                "or set CALLSCOPE_CODE_JUDGE_ISOLATION=rlimits (weaker)") if self.config.isolation == "full" else \
            "set CALLSCOPE_CODE_JUDGE_PYTHON to an interpreter the worker can run"
        raise SandboxUnavailable(f"code-judge sandbox does not work here ({'; '.join(failures) or 'no python found'}): {hint}")

    def run(self, source: str, context: dict) -> RunReport:
        """Run `source` with `context` and return its report (never raises for user errors)."""
        payload = json.dumps({"code": source, "context": context}, default=str).encode()
        started = time.monotonic()
        try:
            returncode, output, timed_out = self.execute(_RUNNER, payload)
        except (OSError, subprocess.SubprocessError) as exc:
            return RunReport("sandbox_unavailable", message=f"cannot start the sandbox: {exc}")
        report = _interpret(returncode, output, timed_out, self.config.timeout_seconds)
        report.duration_ms = int((time.monotonic() - started) * 1000)
        return report

    def execute(self, program: str, stdin: bytes) -> tuple[int, bytes, bool]:
        """Run a Python `program` confined → (exit status, stdout (bounded), timed out).
        The tests use it to show the process boundary holds even for code that got past the
        dialect check and the runner."""
        with tempfile.TemporaryDirectory(prefix="callscope-judge-") as workdir:
            os.chmod(workdir, 0o555)  # empty and not writable, whoever the code runs as
            proc = subprocess.Popen(
                [self.python, "-I", "-S", "-B", "-c", program, str(MAX_OUTPUT_BYTES)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=workdir, env={}, close_fds=True, start_new_session=True, preexec_fn=self._confine,
            )
            output, timed_out = _exchange(proc, stdin, self.config.timeout_seconds)
        return proc.returncode, output, timed_out

    def _confine(self) -> None:
        """In the child between fork and exec: namespaces and limits first, privileges last."""
        libc = ctypes.CDLL(None, use_errno=True)
        if self.config.isolation == "full":
            if libc.unshare(_CLONE_NEWNET | _CLONE_NEWNS) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET | CLONE_NEWNS) failed")
            # a private mount table, then the world-writable directories covered read-only
            if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
                raise OSError(ctypes.get_errno(), "making mounts private failed")
            for path in _WRITABLE_DIRS:
                if os.path.isdir(path):
                    flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
                    if libc.mount(b"tmpfs", path, b"tmpfs", flags, b"size=4k") != 0:
                        raise OSError(ctypes.get_errno(), f"covering {path.decode()} failed")
        cpu = int(self.config.timeout_seconds) + 1
        memory = self.config.memory_mb * 1024 * 1024
        for limit, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, memory),
                             (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_NOFILE, 32),
                             (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, _MAX_PROCESSES)):
            resource.setrlimit(limit, (value, value))
        if self._uid is not None and self._gid is not None:
            os.setgroups([])
            os.setgid(self._gid)
            os.setuid(self._uid)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def _exchange(proc: subprocess.Popen, payload: bytes, timeout: float) -> tuple[bytes, bool]:
    """Send the job, read at most MAX_OUTPUT_BYTES + 1 back, kill the process group at the deadline."""
    deadline = time.monotonic() + timeout
    # started with stdin and stdout as pipes (run()), so both are set
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the child died at once; its exit status tells why
    chunks, size = [], 0
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while size <= MAX_OUTPUT_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                _kill(proc)
                return b"", True
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    if size > MAX_OUTPUT_BYTES:
        _kill(proc)
        return b"".join(chunks), False
    try:
        proc.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(proc)
        return b"", True
    return b"".join(chunks), False


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _interpret(returncode: int, output: bytes, timed_out: bool, timeout: float) -> RunReport:
    if timed_out or returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return RunReport("code_timeout", message=f"The code ran longer than {timeout:g} s.")
    if len(output) > MAX_OUTPUT_BYTES:
        return RunReport("code_output_too_large", message=f"The code's output exceeds {MAX_OUTPUT_BYTES} bytes.")
    # The output is as untrusted as the code that wrote it: parse it without trusting its shape.
    try:
        report = json.loads(output)
    except RecursionError:
        return RunReport("unstorable_output", message="The code's output is nested too deeply to read.")
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return RunReport("code_error", message=f"The sandbox process ended without a result (exit status {returncode}).")
    if report.get("ok"):
        metric, structured = report.get("metric") or {}, report.get("structured_output") or {}
        if not isinstance(metric, dict) or not isinstance(structured, dict):
            return RunReport("invalid_result_type", message="metric and structured_output must stay dicts.")
        return RunReport(None, metric=metric, structured_output=structured)
    codes = {"memory": "code_memory_exceeded", "output": "code_output_too_large",
             "unserialisable": "invalid_result_type", "exception": "code_error"}
    line = report.get("line")
    return RunReport(codes.get(str(report.get("error")), "code_error"),
                     line=line if type(line) is int else None, message=str(report.get("message", ""))[:500])
