"""Layers of confinement for the process that runs student code (Linux).

Loaded by path into the fork server (child.py), never imported by the grader.
Each layer is applied if this machine allows it; what could not be applied is
returned by name so the grader can say so once, and grading goes on.

Layers, in the order they are applied after the fork, all before any student
code runs and before anything in the scratch folder is opened:
1. own session and process group (the grader kills the whole group), and death
   with the fork server;
2. (root) private mount and IPC namespaces: the scratch folder is a fresh,
   size-limited tmpfs (the disk quota), /tmp, /var/tmp, /dev/shm and /run are
   empty, and SysV/POSIX IPC is not available at all (and would die with the
   process);
3. rlimits: CPU seconds, address space, file size, open files, core dumps;
4. Landlock: read only the Python installation, read and write only the
   scratch folder; no TCP bind or connect; no signals or abstract unix
   sockets outside the sandbox;
5. (root) a separate unprivileged user, unique to this grader on the machine,
   allowed no further processes or threads, and no capability but reading
   files (only kept under Landlock, which then decides what may be read);
6. seccomp (libseccomp): no sockets of any kind, no new namespaces, no
   ptrace, no mounts, no keyrings, BPF, io_uring, memfds or SysV/POSIX IPC, no
   change of scheduling priority;
7. (in the fork server, once) a new, empty network namespace.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import struct
import sys
from typing import Protocol

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS = 1, 8, 38
CAPABILITY_VERSION_3, CAP_DAC_READ_SEARCH = 0x20080522, 2
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET = 0x00020000, 0x08000000, 0x40000000
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000, 0x00000080)  # NS, CGROUP, UTS, IPC, USER, PID, NET, TIME
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
IPC_LIMITS = {"kernel/shmmax": "0", "kernel/shmall": "0", "kernel/shmmni": "0",
              "kernel/msgmni": "0", "kernel/sem": "0 0 0 0", "fs/mqueue/queues_max": "0"}
HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/run")  # where machines keep unix sockets
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
DENIED_SYSCALLS = ("socket", "socketpair", "connect", "bind", "unshare", "setns", "ptrace",
                   "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
                   "chroot", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
                   "userfaultfd", "io_uring_setup", "kcmp", "open_by_handle_at",
                   "name_to_handle_at", "fsopen", "fsmount", "open_tree", "move_mount",
                   "memfd_create", "memfd_secret",  # memory outside RLIMIT_AS, and
                   # SysV and POSIX IPC, which outlives the process too (where no IPC
                   # namespace can be made, as in a container)
                   "shmget", "shmat", "msgget", "semget", "mq_open",
                   # a lower priority, or one busy CPU, would turn waits for a CPU, which a
                   # limit excuses as machine load, into a way to stall (sandbox.Wait)
                   "setpriority", "sched_setscheduler", "sched_setattr", "sched_setparam",
                   "sched_setaffinity")
PRELOAD = ("math", "random", "itertools", "functools", "collections", "copy", "time",
           "typing", "dataclasses", "statistics", "operator", "string", "re", "json",
           "warnings", "numbers", "textwrap", "pprint", "decimal", "fractions")


class SeccompFilter(Protocol):
    """What confine needs of pyseccomp's SyscallFilter (pyseccomp ships no types)."""

    def load(self) -> None: ...


def _or_oserror(result: int, what: str) -> int:
    if result < 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")
    return result


def die_with_parent() -> None:
    """Be killed with SIGKILL when the process that started this one ends."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def new_network_namespace() -> list[str]:
    """For the fork server: every child it forks then has no network at all."""
    try:
        _or_oserror(LIBC.unshare(CLONE_NEWNET), "unshare")
    except OSError:
        return ["network namespace (needs root)"]
    return []


def preload_standard_library() -> None:
    """Import what students may import, before the sandbox user may not read it."""
    for name in PRELOAD:
        __import__(name)


def _mount_tmpfs(target: str, options: str) -> None:
    _or_oserror(LIBC.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                      options.encode()), f"mount tmpfs on {target}")


def private_scratch(scratch: str, disk_mb: int) -> list[str]:
    """(root) New mount and IPC namespaces; scratch becomes a fresh tmpfs of disk_mb.

    Nothing student code wrote before can be in it: it is mounted over the
    grader's empty folder in this process's own namespace, and it vanishes
    with the process. The usual homes of unix sockets are hidden behind
    tiny empty tmpfs mounts. Returns the layers that could not be applied.
    """
    try:
        _or_oserror(LIBC.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare")
    except OSError:
        return ["private scratch tmpfs with a disk quota (needs root)",
                "IPC namespace (needs root)"]
    try:
        _no_ipc_memory()
        _or_oserror(LIBC.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
        python = _python_paths()
        for folder in HIDDEN:
            if os.path.isdir(folder) and not any(_beneath(p, folder) for p in python):
                _mount_tmpfs(folder, "size=4k,mode=755")
        os.makedirs(scratch, 0o700, exist_ok=True)  # hidden above when it lies in /tmp
        _mount_tmpfs(scratch, f"size={disk_mb}m,mode=700")
    except OSError as error:
        return [f"private scratch tmpfs with a disk quota ({error})"]
    return []


def _no_ipc_memory() -> None:
    """In the new IPC namespace: no SysV shared memory, queues or semaphores, and no
    POSIX message queues, so none can hold memory outside the rlimits."""
    for name, value in IPC_LIMITS.items():
        with open(f"/proc/sys/{name}", "w") as setting:
            setting.write(value)


def _beneath(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _python_paths() -> set[str]:
    """The Python installation and its import paths: all student code may read."""
    return {sys.prefix, sys.base_prefix, sys.exec_prefix, *filter(os.path.isdir, sys.path)}


def landlock_abi() -> int:
    return LIBC.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))


def _landlock(scratch: str) -> list[str]:
    abi = landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    fs = FS_RIGHTS_BY_ABI[max(k for k in FS_RIGHTS_BY_ABI if k <= abi)]
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = _or_oserror(LIBC.syscall(SYS_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)),
                                  ctypes.c_uint32(0)), "landlock_create_ruleset")
    for path, rights in [*((p, FS_EXECUTE | FS_READ_FILE | FS_READ_DIR) for p in _python_paths()),
                         (scratch, fs)]:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = struct.pack("=Qi", rights, fd)
        _or_oserror(LIBC.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, rule, 0), "add_rule")
        os.close(fd)
    _or_oserror(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _or_oserror(LIBC.syscall(SYS_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    os.close(ruleset)
    missing = [] if abi >= 4 else ["Landlock network rules (kernel too old)"]
    return missing + ([] if abi >= 6 else ["Landlock signal scoping (kernel too old)"])


def _other_user(scratch: str, uid: int | None, read_anything: bool) -> None:
    """Become an unprivileged user; with read_anything (only under Landlock, which then
    decides what may be read) keep CAP_DAC_READ_SEARCH, where the container allows it,
    so that the Python installation stays importable even where it lives in a folder
    other users cannot enter."""
    if uid is None:
        raise OSError("the grader is not running as root")
    os.chown(scratch, uid, uid)
    _or_oserror(LIBC.prctl(PR_SET_KEEPCAPS, int(read_anything), 0, 0, 0), "keepcaps")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _keep_only(1 << CAP_DAC_READ_SEARCH if read_anything else 0)


def _keep_only(capabilities: int) -> None:
    """After the change of user: keep these capabilities (a mask of the lower 32) and no
    other, or, where the container withholds them, none at all. Never fails quietly: a
    process that kept root's capabilities could make itself root again."""
    header = struct.pack("=Ii", CAPABILITY_VERSION_3, 0)
    for keep in (capabilities, 0):
        if LIBC.capset(header, struct.pack("=6I", keep, keep, 0, 0, 0, 0)) == 0:
            return
    raise RuntimeError("could not drop root's capabilities after the change of user")


def seccomp_filter() -> SeccompFilter | None:
    """The syscall filter, built once in the fork server (None: libseccomp is missing).

    Denied calls fail with EPERM; clone3 fails with ENOSYS, so that libc falls
    back to clone, whose flags the filter can see.
    """
    try:
        import pyseccomp as seccomp
        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    except (ImportError, OSError, RuntimeError):
        return None
    denied = seccomp.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        rules.add_rule(denied, name)
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(denied, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    return rules


def _seccomp(rules: SeccompFilter | None) -> None:
    if rules is None:
        raise OSError("libseccomp or pyseccomp is not installed")
    _or_oserror(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    rules.load()


def confine(scratch: str, rlimits: dict[str, int], uid: int | None,
            rules: SeccompFilter | None) -> list[str]:
    """Apply the layers that follow the scratch tmpfs; return the names of those it
    could not. uid: the sandbox user (None when not root); rules: seccomp_filter()."""
    missing = []
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))
    try:
        missing += _landlock(scratch)
        landlocked = True
    except OSError as error:
        missing.append(f"Landlock ({error})")
        landlocked = False
    try:
        _other_user(scratch, uid, read_anything=landlocked)
    except OSError as error:
        missing.append(f"separate user ({error})")
    die_with_parent()  # after setuid, which clears it
    try:
        _seccomp(rules)
    except OSError as error:
        missing.append(f"seccomp filter ({error})")
    return missing
