"""Run a student's file in a separate, limited process and call its functions.

The grading process never imports student code. ``Worker`` starts ``child.py``
on the submission, then each call sends plain data over a pipe and waits at
most ``call_seconds`` for the reply. A call that times out, crashes or exits
fails on its own; the worker is restarted for the next call. The student's
prints are kept (truncated) for the instructor and never read as results.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import wire
from autograder.course import Limits

CHILD = Path(__file__).with_name("child.py")
FILE_LIMIT = 16 * 1024 * 1024


class StudentFault(Exception):
    """A student function did not return normally; the message is for the student.

    kind is one of STATUS_TEXT's keys other than "ok".
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Loaded:
    """How loading the submission went: status is one of STATUS_TEXT's keys."""

    status: str
    message: str
    functions: tuple[str, ...] = ()


STATUS_TEXT = {
    "ok": "Your file loaded.",
    "syntax": "Your file has a syntax error, so none of it could run",
    "error": "Your file raised an error while it was being loaded",
    "exit": "Your file stopped the program while it was being loaded",
    "memory": "Your file ran out of memory while it was being loaded",
    "timeout": "Your file took too long to load",
    "crashed": "Your file crashed the process while it was being loaded",
    "todo": "Your file raised NotImplementedError while it was being loaded",
}


_VERBS = {"exit": "called", "memory": "ran out of memory:", "error": "raised",
          "todo": "is not written yet: it still raises"}


def _limit_child(limits: Limits) -> None:
    """Runs in the child between fork and exec: rlimits that the student cannot raise."""
    memory = limits.memory_mb * 1024 * 1024
    cpu = int(limits.submission_seconds) + 1
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _child_env(scratch: Path) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8"}
    for threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[threads] = "1"
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _ended(code: int | None) -> StudentFault:
    """The fault for a child that closed its pipe, from its exit code."""
    if code is not None and code >= 0:
        return StudentFault("exit", f"ended the process with exit code {code} "
                            "(os._exit or similar)")
    name = signal.Signals(-code).name if code is not None else "unknown"
    reasons = {"SIGXCPU": "used up its CPU time", "SIGXFSZ": "wrote too much output",
               "SIGSEGV": "crashed the process (segmentation fault)"}
    return StudentFault("crashed", reasons.get(name, f"was stopped by {name}"))


class Worker:
    """One submission's process; restarted after a call that kills or hangs it."""

    def __init__(self, submission: Path, limits: Limits):
        self.submission = Path(submission).resolve()
        self.limits = limits
        self.scratch = Path(tempfile.mkdtemp(prefix="grade-"))
        self.process: subprocess.Popen | None = None
        self.loaded: Loaded | None = None
        self.deadline = time.monotonic() + limits.submission_seconds

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> Loaded:
        """Start the child on the submission and report how loading went."""
        self.loaded = self._start()
        return self.loaded

    def _start(self) -> Loaded:
        self._stop()
        req_read, self.req_write = os.pipe()
        self.rep_read, rep_write = os.pipe()
        out = open(self.scratch / "stdout.txt", "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-u", "-B", str(CHILD), str(self.submission),
                 str(req_read), str(rep_write)],
                pass_fds=(req_read, rep_write), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, cwd=self.scratch,
                env=_child_env(self.scratch), start_new_session=True,
                preexec_fn=lambda: _limit_child(self.limits),
            )
        finally:
            out.close()
            os.close(req_read)
            os.close(rep_write)
        try:
            reply = self._receive(self.limits.import_seconds)
        except StudentFault as fault:
            return Loaded(fault.kind, f"{STATUS_TEXT[fault.kind]}: {fault}")
        if "ready" in reply:
            return Loaded("ok", STATUS_TEXT["ok"], tuple(reply["ready"]))
        self._stop()
        detail = _with_line(reply, reply["message"])
        return Loaded(reply["fault"], f"{STATUS_TEXT[reply['fault']]}: {detail}")

    def _receive(self, seconds: float) -> dict:
        wait = min(seconds, self.deadline - time.monotonic())
        ready, _, _ = select.select([self.rep_read], [], [], max(wait, 0))
        if not ready:
            self._stop()
            if wait < seconds:
                raise StudentFault("timeout", "the submission used up its "
                                   f"{self.limits.submission_seconds:g} s in all")
            raise StudentFault("timeout", f"did not finish within {seconds:g} s "
                               "(an endless loop?)")
        try:
            return wire.receive(self.rep_read)
        except (EOFError, ValueError):
            raise _ended(self._stop(grace=1.0)) from None

    def call(self, name: str, args: tuple, kwargs: dict) -> tuple[Any, list, dict]:
        """Call a student function; return (value, args after, kwargs after) or raise."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        request = {"function": name, "args": [wire.to_plain(a) for a in args],
                   "kwargs": {k: wire.to_plain(v) for k, v in kwargs.items()}}
        try:
            wire.send(self.req_write, request)
        except OSError:
            raise _ended(self._stop(grace=1.0)) from None
        reply = self._receive(self.limits.call_seconds)
        after = ([wire.from_plain(a) for a in reply["args"]],
                 {k: wire.from_plain(v) for k, v in reply["kwargs"].items()})
        if "fault" in reply:
            verb = _VERBS.get(reply["fault"], "raised")
            raise StudentFault(reply["fault"], _with_line(reply, f"{verb} {reply['message']}"))
        return (wire.from_plain(reply["value"]), *after)

    def output(self) -> str:
        """What the student's code printed, cut to the course's limit."""
        path = self.scratch / "stdout.txt"
        if not path.exists():
            return ""
        keep = self.limits.output_kb * 1024
        with open(path, "rb") as handle:
            data = handle.read(keep + 1)
        text = data[:keep].decode("utf-8", errors="replace")
        return text + ("\n[... output cut]" if len(data) > keep else "")

    def _stop(self, grace: float = 0.0) -> int | None:
        """Kill the child's whole process group; return its exit code.

        grace: seconds to let a child that closed its pipe exit by itself,
        so that its own exit code is reported rather than our SIGKILL.
        """
        process, self.process = self.process, None
        if process is None:
            return None
        for fd in (self.req_write, self.rep_read):
            os.close(fd)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return process.wait()

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _with_line(reply: dict, text: str) -> str:
    line = reply.get("line")
    return f"{text} (line {line} of your file)" if line else text
