"""The fork server that every submission's process is forked from, seen from the grader.

``Zygote`` starts child.py once per grading process, claims a sandbox user for
it (uids.py), and asks it over a control socket to fork a confined process for
one submission or to kill and reap one. Only plain JSON and file descriptors
cross that socket; the fork server itself never runs student code.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from autograder import BLAS_THREADS
from autograder.course import Limits
from autograder.errors import SetupError
from autograder.uids import claim_uid

CHILD = Path(__file__).with_name("child.py")
FILE_LIMIT = 16 * 1024 * 1024  # each file student code writes


def _rlimits(limits: Limits) -> dict[str, int]:
    """Limits the child sets on itself before it loads student code (it cannot raise them)."""
    return {
        "RLIMIT_AS": limits.memory_mb * 1024 * 1024,
        # a backstop only: the grader's own count (sandbox.Worker) decides; the kernel's
        # tick-sampled count can run ahead of it on a busy machine
        "RLIMIT_CPU": int(1.5 * limits.submission_seconds) + 2,
        "RLIMIT_FSIZE": FILE_LIMIT,
        "RLIMIT_NOFILE": 64,
        "RLIMIT_CORE": 0,
        "RLIMIT_MSGQUEUE": 0,  # POSIX queues, where a container's /dev/mqueue is open
        # no other process or thread: as the sandbox user, or, when the grader is not root,
        # as the grader's own user, who has more than one already (a process that left
        # the group the grader kills would outlive the submission)
        "RLIMIT_NPROC": 1,
    }


def _child_env() -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(dict.fromkeys(BLAS_THREADS, "1"))
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class Zygote:
    """A clean fork server (child.py) that has imported numpy and nothing of ours.

    One per grading process; each submission's process is forked from it, so
    it starts in about a millisecond instead of a fresh interpreter's 100 ms.
    When the grader runs as root, the server claims a sandbox user that no
    other live grader on this machine uses (uids.py), for as long as it runs.
    """

    def __init__(self) -> None:
        self.uid = claim_uid() if os.geteuid() == 0 else None
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-u", "-B", str(CHILD), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=_child_env(),
        )
        theirs.close()

    def _ask(self, request: dict, fds: tuple[int, ...] = ()) -> dict:
        socket.send_fds(self.control, [json.dumps(request).encode()], list(fds))
        reply = self.control.recv(1 << 16)
        if not reply:
            raise SetupError("the fork server stopped; is python3 with numpy installed?")
        return json.loads(reply)

    def spawn(self, source: int, output: int, arena: int, scratch: Path, name: str,
              module: str, limits: Limits) -> tuple[int, socket.socket]:
        """Fork a process for one submission; return its pid and our end of its channel.

        source: the submission, opened by us; output: the file its prints go to;
        arena: the file shared for array arguments (wire.Arena); scratch: a new
        empty folder; name: the file name the submission gets there; module: the
        name it is loaded as (the course's student file, without its suffix).
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request = {"op": "spawn", "scratch": str(scratch), "name": name, "module": module,
                   "rlimits": _rlimits(limits), "uid": self.uid and self.uid.number,
                   "disk_mb": limits.disk_mb + os.fstat(source).st_size // 2**20 + 1}
        try:
            pid = self._ask(request, (theirs.fileno(), output, source, arena))["pid"]
        finally:
            theirs.close()
        return pid, ours

    def reap(self, pid: int, grace: float = 0.0) -> tuple[int | None, float]:
        """Kill a spawned process's group (after grace seconds); return its exit code if it
        ended by itself (a negative code is the signal that ended it), None if it had to be
        killed, and the CPU seconds it used in all."""
        reply = self._ask({"op": "reap", "pid": pid, "grace": grace})
        return reply["code"] if reply["ended"] else None, reply["cpu"]

    def close(self) -> None:
        self.control.close()
        self.process.wait()
        if self.uid:
            self.uid.release()
