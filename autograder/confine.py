"""Layers of confinement for the process that runs student code (Linux).

Loaded by path into the fork server (child.py), never imported by the grader.
Each layer is applied if this machine allows it; what could not be applied is
returned by name so the grader can say so once, and grading goes on.

Layers, in the order they are applied after the fork:
1. own session and process group (the grader kills the whole group), and death
   with the fork server;
2. rlimits: CPU seconds, address space, file size, open files, core dumps;
3. Landlock: read only the Python installation, read and write only the
   scratch folder; no TCP bind or connect; no signals or abstract unix
   sockets outside the sandbox;
4. a separate unprivileged user (when the grader runs as root), allowed no
   further processes or threads, and no capability but reading files (only
   kept under Landlock, which then decides what may be read);
5. (in the fork server, once) a new, empty network namespace.
"""

import ctypes
import os
import resource
import signal
import struct
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS = 1, 8, 38
CAPABILITY_VERSION_3, CAP_DAC_READ_SEARCH = 0x20080522, 2
CLONE_NEWNET = 0x40000000
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX, SCOPE_SIGNAL = 1 << 0, 1 << 1
FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
SANDBOX_UID_BASE = 61000
PRELOAD = ("math", "random", "itertools", "functools", "collections", "copy", "time",
           "typing", "dataclasses", "statistics", "operator", "string", "re", "json",
           "warnings", "numbers", "textwrap", "pprint", "decimal", "fractions")


def _check(result, what):
    if result < 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")
    return result


def die_with_parent():
    """Be killed with SIGKILL when the process that started this one ends."""
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def new_network_namespace():
    """For the fork server: every child it forks then has no network at all."""
    try:
        _check(LIBC.unshare(CLONE_NEWNET), "unshare")
    except OSError:
        return ["network namespace (needs root)"]
    return []


def preload_standard_library():
    """Import what students may import, before the sandbox user may not read it."""
    for name in PRELOAD:
        __import__(name)


def landlock_abi():
    return LIBC.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))


def _landlock(scratch):
    abi = landlock_abi()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    fs = FS_RIGHTS_BY_ABI[max(k for k in FS_RIGHTS_BY_ABI if k <= abi)]
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = _check(LIBC.syscall(SYS_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)),
                                  ctypes.c_uint32(0)), "landlock_create_ruleset")
    readable = {sys.prefix, sys.base_prefix, sys.exec_prefix, *filter(os.path.isdir, sys.path)}
    for path, rights in [*((p, FS_EXECUTE | FS_READ_FILE | FS_READ_DIR) for p in readable),
                         (scratch, fs)]:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = struct.pack("=Qi", rights, fd)
        _check(LIBC.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, rule, 0), "add_rule")
        os.close(fd)
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(LIBC.syscall(SYS_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    os.close(ruleset)
    missing = [] if abi >= 4 else ["Landlock network rules (kernel too old)"]
    return missing + ([] if abi >= 6 else ["Landlock signal scoping (kernel too old)"])


def _other_user(scratch, slot, read_anything):
    """Become an unprivileged user; with read_anything (only under Landlock, which then
    decides what may be read) keep CAP_DAC_READ_SEARCH so that the Python installation
    stays importable even where it lives in a folder other users cannot enter."""
    if os.geteuid() != 0:
        raise OSError("the grader is not running as root")
    uid = SANDBOX_UID_BASE + slot
    os.chown(scratch, uid, uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
    _check(LIBC.prctl(PR_SET_KEEPCAPS, int(read_anything), 0, 0, 0), "keepcaps")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    read = 1 << CAP_DAC_READ_SEARCH if read_anything else 0
    header = struct.pack("=Ii", CAPABILITY_VERSION_3, 0)
    data = struct.pack("=6I", read, read, 0, 0, 0, 0)
    _check(LIBC.capset(header, data), "capset")


def confine(scratch, rlimits, slot):
    """Apply every layer this machine allows; return the names of those it could not."""
    os.setsid()
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
        _other_user(scratch, slot, read_anything=landlocked)
    except OSError as error:
        missing.append(f"separate user ({error})")
    die_with_parent()  # after setuid, which clears it
    return missing
