"""The box one code-judge run lives in (docs/metrics.md#the-sandbox): bubblewrap's command line
and the seccomp program it loads. Both are built from kept tools — bubblewrap for the
namespaces and mounts, libseccomp (through pyseccomp) for the filter — not from raw syscalls.

Each run gets new user, PID, IPC, UTS, network, mount and cgroup namespaces: the program sees
only its own processes (no /proc at all), no network interface, no other run's shared memory,
and a root directory that holds nothing but the read-only system and interpreter directories,
a minimal /dev and an empty read-only working directory. Inside it is `nobody`. When its first
process ends, its PID namespace ends and the kernel kills whatever it left (a `setsid` daemon
included); `--die-with-parent` does the same if the worker dies first.

The seccomp filter refuses (EPERM) what a judge never needs: sockets of every family (unix
included) and socket pairs, new processes (only threads may be cloned), new namespaces
(clone flags, unshare, setns), ptrace and reading or writing other processes' memory, mount and
the new mount API, chroot/pivot_root, bpf, keyrings, perf events, userfaultfd, io_uring, kernel
modules, kexec, clock and reboot calls, handle-based opens. clone3 answers ENOSYS (its flags sit
in memory a filter cannot read), which makes the C library fall back to clone, which is checked.
"""
from __future__ import annotations

import errno
import os
from functools import lru_cache
from pathlib import Path

SANDBOX_UID = 65534  # `nobody` inside the user namespace
WORKDIR = "/sandbox"

_CLONE_THREAD = 0x00010000
_CLONE_NEW = {"CLONE_NEWNS": 0x00020000, "CLONE_NEWCGROUP": 0x02000000, "CLONE_NEWUTS": 0x04000000,
              "CLONE_NEWIPC": 0x08000000, "CLONE_NEWUSER": 0x10000000, "CLONE_NEWPID": 0x20000000,
              "CLONE_NEWNET": 0x40000000, "CLONE_NEWTIME": 0x00000080}
DENIED_SYSCALLS = (
    "socket", "socketpair",
    "fork", "vfork",
    "unshare", "setns",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr",
    "bpf", "keyctl", "add_key", "request_key", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "name_to_handle_at", "acct", "swapon", "swapoff", "reboot", "quotactl",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "uselib", "ioperm", "iopl",
    "vhangup", "personality",
)


class IsolationUnavailable(RuntimeError):
    """bubblewrap or libseccomp is missing, or the kernel refuses what the box needs."""


@lru_cache(maxsize=1)
def seccomp_program() -> bytes:
    """The compiled BPF program bwrap loads with --seccomp (built once per process)."""
    try:
        import pyseccomp as seccomp
    except (ImportError, OSError) as exc:  # OSError: libseccomp.so.2 itself is missing
        raise IsolationUnavailable(f"libseccomp is not usable: {exc}") from exc
    denied = seccomp.ERRNO(errno.EPERM)
    box = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            box.add_rule(denied, name)
        except (ValueError, RuntimeError, OSError):
            continue  # a syscall this kernel/architecture does not have: nothing to deny
    # clone: threads only (CLONE_THREAD set), and no namespace flag whatsoever
    box.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, 0))
    for flag in _CLONE_NEW.values():
        box.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    box.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(write_end, "wb") as sink:
            box.export_bpf(sink)
        with os.fdopen(read_end, "rb") as source:
            return source.read()
    except OSError as exc:
        raise IsolationUnavailable(f"the seccomp filter could not be compiled: {exc}") from exc


def bwrap_command(bwrap: str, python: str, seccomp_fd: int, argv: list[str]) -> list[str]:
    """The bubblewrap command that runs `python argv…` in a fresh box reading its filter from
    `seccomp_fd` (an inherited file descriptor)."""
    command = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv",
               "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    for path in _system_paths(python):
        command += _mirror(path)
    command += ["--dev", "/dev", "--remount-ro", "/dev", "--dir", WORKDIR, "--chdir", WORKDIR, "--remount-ro", "/",
                "--seccomp", str(seccomp_fd), "--", python, *argv]
    return command


def _system_paths(python: str) -> list[Path]:
    """What the interpreter needs: /usr and the top-level links into it (merged /usr), and the
    interpreter's own prefix when it lives elsewhere (a pyenv build, /opt/python…)."""
    paths = [Path(p) for p in ("/usr", "/bin", "/lib", "/lib64", "/lib32", "/sbin") if os.path.lexists(p)]
    prefix = Path(os.path.realpath(python)).parent.parent
    if not any(prefix == p or p in prefix.parents for p in paths):
        paths.append(prefix)
    return paths


def _mirror(path: Path) -> list[str]:
    if path.is_symlink():
        return ["--symlink", os.readlink(path), str(path)]
    return ["--ro-bind", str(path), str(path)]
