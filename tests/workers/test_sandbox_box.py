"""The code-judge box on its own (docs/metrics.md#the-sandbox): programs that got past every
language layer — raw Python with imports, ctypes and os — run where user code runs. Among them
the outside review's cross-tenant programs (issue 16, finding 1): two concurrent runs cannot read
or signal each other, nothing survives a run, no socket of any family opens, no namespace can
be made, the host's processes and the worker's environment are out of reach. The box runs as an
unprivileged user (a root worker drops to `nobody` first; a worker that is not root needs
nothing more — tested below)."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid

import pytest

from workers.judges.isolation import DENIED_SYSCALLS
from workers.judges.sandbox import Sandbox, SandboxConfig


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    box = Sandbox(SandboxConfig(timeout_seconds=5.0, memory_mb=256))
    box.verify()
    return box


def run_raw(sandbox: Sandbox, program: str) -> dict:
    """Run a raw program in the box; it prints one JSON object."""
    status, output, timed_out = sandbox.execute("import json, os, sys\n" + program, b"")
    assert not timed_out
    assert output, f"the program printed nothing (exit status {status})"
    return json.loads(output)


def report(expression: str) -> str:
    return f"sys.stdout.write(json.dumps({expression}))"


def test_runs_unprivileged_with_an_empty_environment_in_an_empty_root(sandbox, monkeypatch):
    monkeypatch.setenv("CALLSCOPE_CANARY", "worker-secret")  # the worker's environment holds secrets
    seen = run_raw(sandbox, report("{'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(),"
                                   " 'env': dict(os.environ), 'cwd': os.listdir('.'), 'root': os.listdir('/')}"))
    assert (seen["uid"], seen["gid"], seen["groups"]) == (65534, 65534, [])
    assert set(seen["env"]) <= {"LC_CTYPE", "PWD"}  # Python sets LC_CTYPE (PEP 538), bwrap PWD
    assert seen["cwd"] == []
    assert not {"proc", "etc", "home", "tmp", "var", "run", "srv", "sys"} & set(seen["root"]), seen["root"]


def test_the_worker_environment_and_host_files_are_unreachable(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("tenant data")
    secret.chmod(0o644)
    paths = ["/proc/1/environ", f"/proc/{os.getpid()}/environ", f"/proc/{os.getpid()}/mem", "/etc/shadow",
             "/etc/passwd", str(secret), "/run/postgresql", "/var/run/docker.sock"]
    seen = run_raw(sandbox, f"out = {{}}\nfor path in {paths!r}:\n"
                            "    try:\n        open(path, 'rb').read(1)\n        out[path] = 'read'\n"
                            "    except OSError as e:\n        out[path] = type(e).__name__\n" + report("out"))
    assert set(seen.values()) == {"FileNotFoundError"}, seen


def test_nothing_can_be_written(sandbox):
    seen = run_raw(sandbox, "out = {}\nfor path in ('./x', '/x', '/tmp/x', '/dev/shm/x', '/usr/x'):\n"
                            "    try:\n        with open(path, 'w') as f:\n            f.write('x' * 10)\n"
                            "        out[path] = 'written'\n"
                            "    except OSError as e:\n        out[path] = e.errno\n" + report("out"))
    assert "written" not in seen.values(), seen
    assert seen["/dev/shm/x"] == 30  # read-only: not even the box's own /dev takes a file


def test_no_socket_of_any_family_opens_not_even_unix(sandbox, tmp_path):
    listener = socket.create_server(("127.0.0.1", 0))
    unix_path = str(tmp_path / "host.sock")
    unix_listener = socket.socket(socket.AF_UNIX)
    unix_listener.bind(unix_path)
    unix_listener.listen()
    families = {"unix": "socket.AF_UNIX", "inet": "socket.AF_INET", "inet6": "socket.AF_INET6",
                "netlink": "socket.AF_NETLINK", "packet": "socket.AF_PACKET", "vsock": "40"}
    program = "import socket\nout = {}\n"
    for name, family in families.items():
        program += (f"try:\n    socket.socket({family}, socket.SOCK_DGRAM)\n    out['{name}'] = 'opened'\n"
                    f"except OSError as e:\n    out['{name}'] = e.errno\n")
    program += ("try:\n    socket.socketpair()\n    out['pair'] = 'opened'\nexcept OSError as e:\n    out['pair'] = e.errno\n"
                f"try:\n    socket.create_connection(('127.0.0.1', {listener.getsockname()[1]}), timeout=1)\n"
                "    out['tcp'] = 'connected'\nexcept OSError as e:\n    out['tcp'] = e.errno\n"
                f"try:\n    s = socket.socket(socket.AF_UNIX)\n    s.connect({unix_path!r})\n    out['unix_path'] = 'connected'\n"
                "except OSError as e:\n    out['unix_path'] = e.errno\n" + report("out"))
    seen = run_raw(sandbox, program)
    listener.close()
    unix_listener.close()
    assert set(seen.values()) == {1}, seen  # EPERM from the filter, for every family and both ends


def test_no_new_process_and_no_new_namespace(sandbox):
    seen = run_raw(sandbox, "import ctypes, subprocess\nlibc = ctypes.CDLL(None, use_errno=True)\nout = {}\n"
                            "try:\n    os.fork()\n    out['fork'] = 'forked'\nexcept OSError as e:\n    out['fork'] = e.errno\n"
                            "try:\n    subprocess.run(['/usr/bin/true'])\n    out['spawn'] = 'spawned'\n"
                            "except OSError as e:\n    out['spawn'] = e.errno\n"
                            "for name, flag in (('user', 0x10000000), ('net', 0x40000000), ('pid', 0x20000000),"
                            " ('mount', 0x00020000), ('ipc', 0x08000000)):\n"
                            "    out['unshare_' + name] = (libc.unshare(flag), ctypes.get_errno())\n"
                            "    out['clone_' + name] = (libc.syscall(56, flag | 17, 0, 0, 0, 0), ctypes.get_errno())\n"
                            "out['setns'] = (libc.setns(0, 0), ctypes.get_errno())\n"
                            "out['ptrace'] = (libc.ptrace(16, 1, 0, 0), ctypes.get_errno())\n"
                            "out['mount'] = (libc.mount(b'none', b'/sandbox', b'tmpfs', 0, None), ctypes.get_errno())\n"
                            "out['bpf'] = (libc.syscall(321, 0, 0, 0), ctypes.get_errno())\n"
                            "out['keyctl'] = (libc.syscall(250, 0, 0, 0, 0, 0), ctypes.get_errno())\n"
                            "import threading\nt = threading.Thread(target=lambda: None)\nt.start()\nt.join()\n"
                            "out['thread'] = 'ran'\n" + report("out"))
    assert seen.pop("thread") == "ran"  # threads are the only clone allowed
    assert seen.pop("fork") == 1 and seen.pop("spawn") == 1
    assert {key: value for key, value in seen.items() if value != [-1, 1]} == {}, seen
    assert {"socket", "ptrace", "mount", "unshare", "setns", "bpf", "keyctl", "fork"} <= set(DENIED_SYSCALLS)


def test_host_processes_are_invisible_and_cannot_be_signalled(sandbox):
    worker = os.getpid()
    seen = run_raw(sandbox, "import signal\nvisible = []\nfor pid in range(1, 4096):\n"
                            "    try:\n        os.kill(pid, 0)\n        visible.append(pid)\n"
                            "    except ProcessLookupError:\n        pass\n"
                            "    except PermissionError:\n        visible.append(pid)\n"
                            f"try:\n    os.kill({worker}, 0)\n    hit = 'visible'\n"
                            "except OSError as e:\n    hit = type(e).__name__\n"
                            "try:\n    proc = os.listdir('/proc')\nexcept OSError as e:\n    proc = type(e).__name__\n"
                            + report("{'visible': visible, 'self': os.getpid(), 'hit': hit, 'proc': proc}"))
    assert seen["visible"] == [1, seen["self"]]  # the box's own init and the program: nothing else
    assert seen["hit"] == "ProcessLookupError"  # the worker's pid names no process in the box
    assert seen["proc"] == "FileNotFoundError"


def test_two_concurrent_runs_cannot_read_or_signal_each_other(sandbox):
    """Run A keeps a secret in its memory and in System V shared memory and waits; run B,
    concurrently, looks for any other process to read or kill and for A's shared memory."""
    secret = f"tenant-a-{uuid.uuid4().hex}"
    tenant_a = ("import ctypes, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                f"secret = {secret!r}\n"
                "shm = libc.shmget(0xCA11, 4096, 0o1000 | 0o666)\n"
                "time.sleep(1.5)\n" + report("{'secret': secret, 'shm': shm, 'alive': True}"))
    tenant_b = ("import ctypes, signal\nlibc = ctypes.CDLL(None, use_errno=True)\nout = {'killed': [], 'read': []}\n"
                "for pid in range(1, 4096):\n    if pid in (1, os.getpid()):\n        continue\n"
                "    try:\n        os.kill(pid, signal.SIGCONT)\n        out['killed'].append(pid)\n"
                "    except OSError:\n        pass\n"
                "    for path in (f'/proc/{pid}/mem', f'/proc/{pid}/environ'):\n"
                "        try:\n            open(path, 'rb').read(1)\n            out['read'].append(path)\n"
                "        except OSError:\n            pass\n"
                "out['shm'] = (libc.shmget(0xCA11, 0, 0), ctypes.get_errno())\n" + report("out"))
    results: dict[str, dict] = {}

    def run(name: str, program: str) -> None:
        results[name] = run_raw(sandbox, program)

    first = threading.Thread(target=run, args=("a", tenant_a))
    first.start()
    time.sleep(0.5)  # A is up and waiting when B looks around
    run("b", tenant_b)
    first.join()
    assert results["a"] == {"secret": secret, "shm": results["a"]["shm"], "alive": True}
    assert results["a"]["shm"] >= 0  # A did create its segment…
    assert results["b"] == {"killed": [], "read": [], "shm": [-1, 2]}  # …which B cannot find (ENOENT)


def test_nothing_survives_a_run(sandbox):
    """The review's leftover daemon: the program tries every way to leave something running."""
    marker = f"callscope-survivor-{uuid.uuid4().hex}"
    seen = run_raw(sandbox, f"# {marker}\nimport threading, time\nout = {{}}\n"
                            "try:\n    if os.fork() == 0:\n        os.setsid()\n        time.sleep(30)\n"
                            "    out['daemon'] = 'started'\nexcept OSError as e:\n    out['daemon'] = e.errno\n"
                            "threading.Thread(target=time.sleep, args=(30,), daemon=False).start()\n"
                            + report("out") + "\nsys.stdout.flush()\nos._exit(0)")
    assert seen == {"daemon": 1}
    time.sleep(0.2)
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    survivors.append(pid)
        except OSError:
            continue
    assert survivors == []


def test_limits_hold_cpu_and_memory(sandbox):
    quick = Sandbox(SandboxConfig(timeout_seconds=1.0, python=sandbox.python))
    status, _, timed_out = quick.execute("while True:\n    pass", b"")
    assert timed_out or status < 0
    seen = run_raw(sandbox, "try:\n    x = bytearray(512 * 1024 * 1024)\n    r = 'allocated'\n"
                            "except MemoryError:\n    r = 'MemoryError'\n" + report("{'r': r}"))
    assert seen == {"r": "MemoryError"}


def test_a_worker_that_is_not_root_creates_boxes_as_well(sandbox):
    """The shipped container runs the worker as an unprivileged user: `full` needs no root."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            box = Sandbox(SandboxConfig(timeout_seconds=5.0, python=sandbox.python))
            box.verify()
            result = box.run('metric["result"] = 6 * 7', {})
            os.write(write_end, json.dumps({"euid": os.geteuid(), "result": result.metric.get("result"),
                                            "code": result.code}).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        seen = json.loads(pipe.read() or b"{}")
    os.waitpid(child, 0)
    assert seen == {"euid": 65534, "result": 42, "code": None}
