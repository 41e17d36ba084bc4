"""The code-judge sandbox: user code runs in a fresh box the operating system confines
(docs/metrics.md#the-sandbox).

Layers (any one may fail without the others failing):
1. the dialect check (app/codecheck.py) refuses imports, dunders, introspection → `code_forbidden`;
2. the runner (runner.py) gives the code a handful of builtins and no modules;
3. the box, and this is the boundary: bubblewrap with new user, PID, IPC, UTS, network, mount
   and cgroup namespaces, a seccomp filter (no sockets, no new processes or namespaces, no
   ptrace, mount, bpf, keyrings…; isolation.py), an empty environment, a read-only root with
   only the system and interpreter directories, and rlimits on CPU, address space, file size
   (0), open files and core dumps. A worker running as root drops to an unprivileged user first.
A fresh box per run: when the run's first process ends, the kernel ends everything it started.
The worker only ever reads one bounded JSON document back.

`CALLSCOPE_CODE_JUDGE_ISOLATION=off` is for workers that cannot create the box (a container
runtime that forbids user namespaces): they run no user code at all — code metrics fail
`sandbox_unavailable` there, and a judge worker that can create the box takes the code-judge
queue (docs/operations.md#the-code-judge-worker). There is no weaker mode that runs user code.
"""
from __future__ import annotations

import ctypes
import json
import os
import pwd
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from workers.judges.isolation import IsolationUnavailable, bwrap_command, seccomp_program

_RUNNER = (Path(__file__).with_name("runner.py")).read_text()
_PR_SET_NO_NEW_PRIVS = 38
MAX_OUTPUT_BYTES = 1 << 20
_MAX_OPEN_FILES = 64  # bubblewrap's own setup needs a few; the runner needs stdin/stdout


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot run here as configured; raised at worker start, never mid-call."""


@dataclass(frozen=True)
class SandboxConfig:
    timeout_seconds: float = 5.0
    memory_mb: int = 256
    isolation: str = "full"          # "full" (bubblewrap) | "off" (no user code runs here)
    user: str = "nobody"             # what a root worker drops to before entering the box
    python: str = ""                 # "" = pick the first interpreter the box can run


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
        self.python = config.python
        self._drop_to: tuple[int, int] | None = None
        self._bwrap = shutil.which("bwrap") or ""
        if config.isolation != "full":
            return
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam(config.user)
            except KeyError:
                raise SandboxUnavailable(f"sandbox user {config.user!r} does not exist") from None
            self._drop_to = (entry.pw_uid, entry.pw_gid)
        if not self._bwrap:
            raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        try:
            self._seccomp = seccomp_program()
        except IsolationUnavailable as exc:
            raise SandboxUnavailable(f"{exc}: apt-get install libseccomp2 (and pip install pyseccomp)") from exc

    def verify(self) -> None:
        """Run a probe program in a real box; pick the interpreter. Raises SandboxUnavailable
        with what to change (a worker that cannot judge code must not take code metrics)."""
        if self.config.isolation != "full":
            return
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
        raise SandboxUnavailable(
            f"code-judge sandbox does not work here ({'; '.join(failures) or 'no python found'}): the box needs "
            "user namespaces (a container runtime may forbid them: docs/operations.md#the-code-judge-worker), "
            "or set CALLSCOPE_CODE_JUDGE_ISOLATION=off to run no code metrics on this worker")

    def run(self, source: str, context: dict) -> RunReport:
        """Run `source` with `context` and return its report (never raises for user errors)."""
        if self.config.isolation != "full":
            return RunReport("sandbox_unavailable", message="This worker runs no user code "
                             "(CALLSCOPE_CODE_JUDGE_ISOLATION=off); route code judges to a judge worker.")
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
        """Run a Python `program` in a fresh box → (exit status, stdout (bounded), timed out).
        The tests use it to show the box holds even for code that got past the dialect check
        and the runner."""
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, self._seccomp)  # a few hundred bytes: far below a pipe's buffer
            os.close(write_end)
            command = bwrap_command(self._bwrap, self.python, read_end,
                                    ["-I", "-S", "-B", "-c", program, str(MAX_OUTPUT_BYTES)])
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, env={}, close_fds=True, pass_fds=(read_end,),
                                    start_new_session=True, preexec_fn=self._confine)
        finally:
            os.close(read_end)
        output, timed_out = _exchange(proc, stdin, self.config.timeout_seconds)
        return proc.returncode, output, timed_out

    def _confine(self) -> None:
        """In the child between fork and exec of bwrap: limits (inherited by the box), then, for
        a root worker, an unprivileged user, then no_new_privs."""
        cpu = int(self.config.timeout_seconds) + 1
        memory = self.config.memory_mb * 1024 * 1024
        for limit, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, memory),
                             (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_NOFILE, _MAX_OPEN_FILES),
                             (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(limit, (value, value))
        if self._drop_to is not None:
            os.setgroups([])
            os.setgid(self._drop_to[1])
            os.setuid(self._drop_to[0])
        libc = ctypes.CDLL(None, use_errno=True)
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
