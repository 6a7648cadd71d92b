"""Run a student's file in a separate, limited process and call its functions.

The grading process never imports student code. A ``Zygote`` (child.py, a
fork server) forks one confined process per submission; ``Worker`` sends it
plain data over a socket for each call and waits for the whole reply until the
child has used ``call_seconds`` of CPU time, or spent three times that idle (on
the clock, but neither running nor waiting for a CPU nor waiting for the
grader: see ``Wait``), so machine load never decides a grade, and a child that
sleeps or trickles bytes cannot stall. Replies are bounded in size before
parsing and treated as untrusted. The submission's CPU time counts over all its
restarts, with a wall-clock backstop. A call that times out, crashes or
exits fails on its own; the process is restarted for the next call. The
student's prints are kept (truncated) for the instructor and never read as
results.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import os
import re
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from autograder import wire
from autograder.course import Limits
from autograder.forkserver import FILE_LIMIT, Zygote
from autograder.statuses import Fault, Status

SUBMISSION_LIMIT = 64 * 1024 * 1024  # the submission itself (notebooks keep their outputs)
WALL_FACTOR = 3  # a wait ends at this many times its CPU limit on the clock, whatever the CPU
POLL_SECONDS = 0.05  # how often a wait looks at the child's CPU time
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# the hidden cases' stand-ins see arrays of at most 32 rows: these caps bound the work of one
# question (a product of 256 x 256 by 256 x 256 takes milliseconds, even of subnormals,
# where 1024 took seconds)
STAND_IN_SIDE = 256  # longest axis of an array a stand-in takes
STAND_IN_VALUES = 1 << 16  # numbers in one question, and in one answer
STAND_IN_ITEMS = 16  # items of a dict in a question (params, grads, cache: four)
# questions one call may ask: the limit that counts, the same on any machine (an honest
# train of 200 epochs asks at most 800); the grader's CPU for them, WALL_FACTOR times the call
# limit, is only a backstop against questions that are each expensive
STAND_IN_QUESTIONS = 4096
_T = TypeVar("_T")
StandIns = dict[str, Callable[..., Any]]  # helper name -> the trusted function for it
# (trusted: a test file's) given a stand-in's question (name, arguments) and its answer,
# the questions likely to follow, answered: [(name, arguments, answer), ...]
Foresee = Callable[[str, list, Any], list[tuple[str, tuple, Any]]]


class StudentFault(Exception):
    """Student code did not load or return normally; the message is for the student and
    reads on from the name of what failed ("mse ..." or "Your file ...")."""

    def __init__(self, kind: Fault, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Loaded:
    """How loading the submission went: fault is None when it loaded; the message says
    what happened (the student reads the status's own sentence beside it)."""

    fault: Fault | None
    message: str = ""
    functions: tuple[str, ...] = ()
    unprotected: tuple[str, ...] = ()  # confinement layers this machine could not apply
    notes: tuple[str, ...] = ()  # notebook cells that failed or were partly skipped

    @property
    def status(self) -> Status:
        return self.fault.on_load if self.fault else Status.OK


def _ended(code: int | None) -> StudentFault:
    """The fault for a child that closed its channel, from its exit code (None: it did not
    end by itself, and was stopped)."""
    if code is None:
        return StudentFault(Fault.CRASHED, "stopped answering the grader without ending, so "
                            "the grader stopped it")
    if code >= 0:
        return StudentFault(Fault.EXIT, f"ended the process with exit code {code} "
                            "(os._exit or similar)")
    name = _signal_name(-code)
    reasons = {"SIGXFSZ": f"wrote more than {FILE_LIMIT >> 20} MB to a file",
               "SIGSEGV": "crashed the process (segmentation fault)"}
    return StudentFault(Fault.CRASHED, reasons.get(name, f"was stopped by {name}"))


def _signal_name(number: int) -> str:
    """SIGSEGV and the like; real-time and unknown signals by number."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _limit_note(kind: Fault, limits: Limits) -> str:
    """The limit a fault ran into, named for the student."""
    notes = {Fault.MEMORY: f" (the limit is {limits.memory_mb} MB)",
             Fault.OUTPUT: f" (files and prints are capped at {FILE_LIMIT >> 20} MB)"}
    return notes.get(kind, "")


class Worker:
    """One submission's process; restarted after a call that kills or hangs it.

    The grading process never opens a path inside a scratch folder once
    student code could have run there: the submission and the output file
    are descriptors opened here, replies arrive on the channel, and each
    start gets a new scratch folder (removed with no-follow, fd-relative calls).
    """

    def __init__(self, zygote: Zygote, submission: Path, limits: Limits,
                 module: str | None = None):
        """module: the name the submission is loaded as (course.module); without one, the
        file's own name without its suffix, as Python would import it."""
        self.zygote = zygote
        self.limits = limits
        self.source = os.open(submission, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        self.name = _scratch_name(Path(submission))
        self.module = module or Path(submission).stem
        self.prints = tempfile.TemporaryFile(prefix="grade-output-")
        self.arena = wire.Arena()
        self.scratch: Path | None = None
        self.pid: int | None = None
        self.channel: socket.socket | None = None
        self.loaded: Loaded | None = None
        self.deadline = time.monotonic() + WALL_FACTOR * limits.submission_seconds  # backstop
        # CPU seconds of this submission's processes already stopped, and of the grader's
        # answers to its stand-ins' questions: all of it counts against submission_seconds
        self.cpu_spent = 0.0
        # (function, its stand-ins...) -> how it first hit the call limit
        self.stalled: dict[tuple[str, ...], str] = {}

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> Loaded:
        """Start the child on the submission and report how loading went."""
        self.loaded = self._start()
        return self.loaded

    def _start(self) -> Loaded:
        size = os.fstat(self.source).st_size
        notebook = self.name.endswith(".ipynb")
        subject = "Your notebook" if notebook else "Your file"
        if size > SUBMISSION_LIMIT:
            return Loaded(Fault.NOTEBOOK if notebook else Fault.ERROR,
                          f"{subject} is {size / 2**20:.0f} MB, more than the "
                          f"{SUBMISSION_LIMIT >> 20} MB the grader reads; clear a notebook's "
                          "outputs (Kernel > Restart & Clear Output), save, and hand it in again")
        self._stop()
        self._remove_scratch()
        self.scratch = Path(tempfile.mkdtemp(prefix="grade-"))
        left = dataclasses.replace(self.limits, submission_seconds=max(
            self.limits.submission_seconds - self.cpu_spent, 0.0))
        self.pid, self.channel = self.zygote.spawn(
            self.source, self.prints.fileno(), self.arena.fd, self.scratch, self.name,
            self.module, left)
        wait, unprotected = self._wait(self.limits.import_seconds, cpu_from=0.0), ()
        try:  # the first message is sent before any student code runs: trusted
            confined = self._receive(wait, wire.MAX_REPLY)
            unprotected = tuple(confined.get("confined", ("confinement report (missing)",)))
            reply = self._receive(wait, wire.MAX_REPLY)
        except StudentFault as fault:
            return Loaded(fault.kind, f"{subject} {fault}", (), unprotected)
        if "ready" in reply:
            notes = tuple(reply.get("notes", ()))
            return Loaded(None, "", tuple(reply["ready"]), unprotected, notes)
        self._stop()
        if "fault" not in reply:
            return Loaded(Fault.CRASHED, f"{subject} sent the grader a message the grader "
                          "does not understand", (), unprotected)
        return Loaded(reply["fault"], f"{subject} {self._told(reply)}", (), unprotected)

    def _channel(self) -> socket.socket:
        """The channel to the child (_start sets it with the pid; _stop closes it)."""
        assert self.channel is not None, "a child was started before it is talked to"
        return self.channel

    def _usage(self) -> Usage:
        """What the running child has used (nothing when there is none)."""
        return _usage(f"/proc/{self.pid}") if self.pid is not None else Usage(0.0, 0.0)

    def _spent(self, cpu: float | None = None) -> bool:
        """Whether the submission has used up its CPU time, or its wall-clock backstop;
        cpu: the running child's CPU seconds, if just read."""
        cpu = self._usage().cpu if cpu is None else cpu
        return (self.cpu_spent + cpu >= self.limits.submission_seconds
                or time.monotonic() >= self.deadline)

    def _wait(self, seconds: float, cpu_from: float | None = None) -> Wait:
        """A wait in which the child may use seconds of CPU time (counted from cpu_from, or
        from now) and spend WALL_FACTOR times that idle."""
        usage, now = self._usage(), time.monotonic()
        return Wait((usage.cpu if cpu_from is None else cpu_from) + seconds, seconds,
                    WALL_FACTOR * seconds, now, usage.waiting, _own_busy(), now + POLL_SECONDS)

    def _enforce(self, wait: Wait) -> None:
        """TimeoutError once the submission is spent, or this wait's CPU or idle time; the
        next check is due POLL_SECONDS from now."""
        wait.next_check = time.monotonic() + POLL_SECONDS
        usage = self._usage()  # one read of /proc per check
        if self._spent(usage.cpu):
            raise TimeoutError("submission")
        if usage.cpu >= wait.cpu_until:
            raise TimeoutError("cpu")
        if wait.idle(usage.waiting) >= wait.idle_limit:
            raise TimeoutError("wall")

    def _paced(self, wait: Wait, step: Callable[[], _T]) -> _T:
        """step(), a recv or send on the channel, within the wait: TimeoutError (_enforce)
        however slowly the child reads or writes, as the limits are checked every
        POLL_SECONDS of the wait, whether or not bytes move in between."""
        channel = self._channel()
        while True:
            if time.monotonic() >= wait.next_check:
                self._enforce(wait)
            channel.settimeout(max(wait.next_check - time.monotonic(), 1e-3))
            try:
                return step()
            except TimeoutError:
                wait.next_check = 0.0

    def _limited_read(self, wait: Wait) -> Callable[[int], bytes]:
        """recv within the wait (_paced)."""
        channel = self._channel()
        return lambda size: self._paced(wait, functools.partial(channel.recv, size))

    def _receive(self, wait: Wait, limit: int) -> dict:
        """The child's next message, whole within the wait's limits and at most limit bytes.
        The wait's last message is checked at once, so a reply's CPU time counts however
        soon it came; a stand-in's question only when a check is due (one /proc read per
        POLL_SECONDS, not per question)."""
        try:
            message = _plain_reply(wire.receive(self._limited_read(wait), limit))
            if "stand_in" not in message or time.monotonic() >= wait.next_check:
                self._enforce(wait)
            return message
        except TimeoutError as timeout:
            raise self._timed_out(timeout, wait) from None
        except wire.TooLarge as error:
            self._stop()
            raise StudentFault(Fault.OUTPUT, f"sent a reply that is too large ({error})") \
                from None
        except ValueError as error:  # a forged message: no grace, it is not exiting
            self._stop()
            raise StudentFault(Fault.CRASHED, "sent the grader a message it could not read "
                               f"({error})") from None
        except (EOFError, OSError):
            raise self._ended() from None

    def _answer(self, data: bytes, wait: Wait) -> None:
        """Send a stand-in's answer within the call's wait: a child that stops reading it
        times out as one that stops replying does (_enforce), and so is not run again."""
        channel, view = self._channel(), memoryview(data)
        try:
            while view:
                view = view[self._paced(wait, functools.partial(channel.send, view)):]
        except TimeoutError as timeout:
            raise self._timed_out(timeout, wait) from None
        except OSError:
            raise self._ended() from None

    def _timed_out(self, timeout: TimeoutError, wait: Wait) -> StudentFault:
        """The fault for a wait that ran out (_enforce): the child is stopped."""
        spent = str(timeout) == "submission" or self._spent()
        self._stop()
        return StudentFault(Fault.TIMEOUT, self._timeout_text(str(timeout), wait.seconds, spent))

    def _ended(self) -> StudentFault:
        """The fault for a child that closed its channel: how it ended, or that the
        submission used up its time. The kernel's CPU limit (an rlimit, which ends the
        child with SIGKILL) counts CPU time by the clock tick, and on a busy machine it can
        fire before our own count says the time is spent: a SIGKILL we did not send, once
        half the time is used, is that limit."""
        code = self._stop(grace=1.0)
        at_the_limit = (code == -signal.SIGKILL
                        and self.cpu_spent >= self.limits.submission_seconds / 2)
        if self._spent() or at_the_limit:
            return StudentFault(Fault.TIMEOUT, self._used_up())
        return _ended(code)

    def _told(self, reply: dict) -> str:
        """A fault child.py reported, told for the student: "raised NameError: ..."."""
        kind = reply["fault"]
        return _with_line(reply, f"{kind.verb} {reply['message']}{_limit_note(kind, self.limits)}")

    def _timeout_text(self, reason: str, seconds: float, spent: bool) -> str:
        if spent:
            return self._used_up()
        if reason == "cpu":
            return f"did not finish within {seconds:g} s (an endless loop?)"
        return (f"did not finish: it spent {WALL_FACTOR * seconds:g} s neither running nor "
                "waiting for a CPU (waiting for something that never comes?)")

    def _used_up(self) -> str:
        seconds = self.limits.submission_seconds
        return (f"could not finish: your submission used up its time ({seconds:g} s of CPU "
                f"time in all, or {WALL_FACTOR * seconds:g} s on the clock)")

    def call(self, name: str, args: tuple, kwargs: dict, stand_ins: StandIns | None = None,
             foresee: Foresee | None = None) -> tuple[Any, dict[str, Any]]:
        """Call a student function; return (value, changed arguments) or raise.

        stand_ins: trusted functions that replace the student's helpers of these
        names for this call; the child gets proxies that ask us (stand_in_answer).
        A function that hit the call limit once is not run again in this
        submission with the same stand-ins: later calls fail at once, naming that
        first timeout (with other helpers, the loop may not be its own).
        """
        stand_ins = stand_ins or {}
        stalled = self.stalled.get((name, *sorted(stand_ins)))
        if stalled and not self._spent():
            raise StudentFault(Fault.TIMEOUT, "was not run again, because in an earlier case it "
                               + stalled)
        return self._call(name, args, kwargs, stand_ins, foresee)

    def _stalled_helpers(self, name: str, stand_ins: StandIns) -> dict[str, str]:
        """The student's functions that ran past the call limit on their own code alone
        (no stand-ins), other than name and those standing in now: in this call, the
        child makes calling one fail at once, naming that first timeout."""
        return {key[0]: text for key, text in self.stalled.items()
                if len(key) == 1 and key[0] != name and key[0] not in stand_ins}

    def _call(self, name: str, args: tuple, kwargs: dict, stand_ins: StandIns,
              foresee: Foresee | None = None) -> tuple[Any, dict[str, Any]]:
        """One call of a student function: (value, changed arguments), or StudentFault.

        Changed arguments are keyed by position ("0", "1", ...) or keyword name:
        arrays changed in place as the grader reads them back from the arena,
        other changes (a key replaced in a dict) as the student's process reports.
        """
        if self._spent():
            self._stop()
            raise StudentFault(Fault.TIMEOUT, self._used_up())
        if self.pid is None:
            restarted = self._start()
            if restarted.fault:
                raise StudentFault(restarted.fault, "could not be restarted for this call: "
                                   + restarted.message)
        plain_args, plain_kwargs = self.arena.encode(args, kwargs)
        request = {"function": name, "args": plain_args, "kwargs": plain_kwargs,
                   "stand_ins": sorted(stand_ins),
                   "stalled": self._stalled_helpers(name, stand_ins)}
        data = wire.frame(request)
        self._send(data)
        try:
            reply = self._reply(wire.reply_limit(len(data)), stand_ins, foresee)
        except StudentFault as fault:
            if fault.kind is Fault.TIMEOUT and not self._spent():
                self.stalled[(name, *sorted(stand_ins))] = str(fault)  # not a restart's
            raise
        except BaseException:  # ours: the child may be left waiting for an answer
            self._stop()
            raise
        if "fault" in reply:
            raise StudentFault(reply["fault"], self._told(reply))
        if "value" not in reply:
            raise self._ended()
        arguments = {*map(str, range(len(args))), *kwargs}
        try:
            reported = {str(k): wire.from_plain(v) for k, v in reply.get("changed", {}).items()
                        if k in arguments}
            value = wire.from_plain(reply["value"])
        except Exception:  # anything the child sends may be malformed: its fault, not ours
            self._stop()
            raise StudentFault(Fault.CRASHED, "sent the grader a reply it could not read") \
                from None
        # what the arena shows was changed in place outranks what the child reports
        return value, {**reported, **self.arena.changed(args, kwargs)}

    def _send(self, data: bytes) -> None:
        channel = self._channel()
        try:
            channel.settimeout(max(self.limits.call_seconds, 1e-6))
            channel.sendall(data)
        except OSError:  # a timeout too: the child stopped reading
            raise self._ended() from None

    def _reply(self, limit: int, stand_ins: StandIns, foresee: Foresee | None) -> dict:
        """The call's reply, answering the stand-ins' questions on the way: at most
        STAND_IN_QUESTIONS of them, and the grader's CPU for them (reading them included)
        at most WALL_FACTOR times the call limit. That CPU also counts against the
        submission's own time, like the child's; the child's CPU time and idle time count
        against the call's own limits as ever. foresee: each answer goes with those to
        the questions likely to follow (each counts as a question), which the child then
        takes without asking."""
        wait, start = self._wait(self.limits.call_seconds), time.thread_time()
        asked = 0
        while True:
            before = time.thread_time()
            reply = self._receive(wait, limit)
            if "stand_in" not in reply:
                return reply
            if asked >= STAND_IN_QUESTIONS:
                self._stop()
                raise StudentFault(Fault.TIMEOUT, "asked the grader's stand-ins more than "
                                   f"{STAND_IN_QUESTIONS} questions in one call")
            answered = stand_in_answer(reply, stand_ins, self.arena,
                                       foresee, STAND_IN_QUESTIONS - asked - 1)
            answer = wire.frame(answered)
            self.cpu_spent += time.thread_time() - before
            asked += len(answered.get("foreseen", ()))
            if time.thread_time() - start > WALL_FACTOR * wait.seconds:
                self._stop()
                raise StudentFault(Fault.TIMEOUT, "kept the grader busy with questions for more "
                                   f"than {WALL_FACTOR * wait.seconds:g} s of its CPU time")
            self._answer(answer, wait)
            asked += 1

    def output(self) -> str:
        """What the student's code printed, cut to the course's limit."""
        keep = self.limits.output_kb * 1024
        data = os.pread(self.prints.fileno(), keep + 1, 0)
        text = data[:keep].decode("utf-8", errors="replace")
        return text + ("\n[... output cut]" if len(data) > keep else "")

    def _stop(self, grace: float = 0.0) -> int | None:
        """Kill the child's whole process group; return its exit code if it ended by itself
        (None: it was killed here, or none was running).

        grace: seconds to let a child that closed its channel exit by itself,
        so that its own exit code is reported rather than our SIGKILL (never
        past the submission's deadline).
        """
        if self.pid is None:
            return None
        pid, self.pid = self.pid, None
        self._channel().close()
        code, cpu = self.zygote.reap(pid, min(grace, max(0.0, self.deadline - time.monotonic())))
        self.cpu_spent += cpu  # read at the reaping: the grace is counted too
        return code

    def _remove_scratch(self) -> None:
        if self.scratch is not None:
            remove_tree(self.scratch)
            self.scratch = None

    def close(self) -> None:
        self._stop()
        self._remove_scratch()
        self.prints.close()
        self.arena.close()
        os.close(self.source)


def remove_tree(top: Path) -> None:
    """Remove a folder that student code filled, without following links, however deep
    or wide it is, with constant memory and paths of two names at most: each folder
    found in top is removed when empty, else its entries are moved up into top first.
    Folders the student closed are opened again (chmod through a descriptor, never a
    path). Never raises: what cannot be removed is left, and it stops once a pass over
    top removes nothing (the student's processes are gone)."""
    try:
        fd = _open_folder(str(top), None)
    except (OSError, ValueError):
        return
    try:
        names = itertools.count()
        while _empty_one_level(fd, names):
            pass
        os.rmdir(top)
    except (OSError, ValueError):
        pass
    finally:
        os.close(fd)


def _open_folder(name: str, dir_fd: int | None) -> int:
    """A descriptor of the folder name (never a link), opened for us first if closed."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except PermissionError:
        _loosen(name, dir_fd)
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)


def _loosen(name: str, dir_fd: int | None) -> None:
    """Make the folder name (never a link) readable and writable for us: chmod through a
    descriptor of it, never through a name that could be swapped."""
    path = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        os.chmod(f"/proc/self/fd/{path}", 0o700)
    finally:
        os.close(path)


def _empty_one_level(fd: int, names: Iterator[int]) -> bool:
    """One pass over the folder fd: remove files and links, and folders once their entries
    are moved up into it (under new names from names). Whether it changed anything and
    anything is left; an entry it cannot remove is skipped."""
    changed = left = False
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    left = True
                    _hoist(fd, entry.name, names)
                else:
                    os.unlink(entry.name, dir_fd=fd)
                changed = True
            except (OSError, ValueError):  # gone already (listed twice), or kept
                continue
    return changed and left


def _hoist(fd: int, name: str, names: Iterator[int]) -> None:
    """Move the entries of the folder name (in the folder fd) up into fd; remove it."""
    inner = _open_folder(name, fd)
    try:
        with os.scandir(inner) as children:
            for child in children:
                if child.is_dir(follow_symlinks=False):  # moving a folder writes in it
                    _loosen(child.name, inner)
                os.rename(child.name, _free_name(fd, names), src_dir_fd=inner, dst_dir_fd=fd)
    finally:
        os.close(inner)
    os.rmdir(name, dir_fd=fd)


def _free_name(fd: int, names: Iterator[int]) -> str:
    """A name no entry of the folder fd has."""
    while True:
        name = f".up{next(names)}"
        try:
            os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return name


@dataclass(frozen=True)
class Usage:
    """Seconds a process (or thread) has run on a CPU, and waited for one while runnable."""

    cpu: float
    waiting: float


def _usage(proc: str) -> Usage:
    """From the kernel's schedstat (nanoseconds); without it, the CPU time of stat only."""
    try:
        cpu, waiting = Path(f"{proc}/schedstat").read_text().split()[:2]
        return Usage(int(cpu) / 1e9, int(waiting) / 1e9)
    except (OSError, ValueError):
        pass
    try:
        fields = Path(f"{proc}/stat").read_text().rsplit(")", 1)[1].split()
        return Usage((int(fields[11]) + int(fields[12])) / CLOCK_TICKS, 0.0)
    except (OSError, IndexError, ValueError):
        return Usage(0.0, 0.0)


def _own_busy() -> float:
    """Seconds this thread has run or waited to run: the grader's own share of a wait."""
    usage = _usage("/proc/thread-self")
    return usage.cpu + usage.waiting if usage.cpu else time.thread_time()


@dataclass
class Wait:
    """One wait for the child: its CPU limit, and its idle limit on the clock.

    Idle time is time on the clock less the child's waits for a CPU and the grader's own
    work (its answers to stand-ins): what a sleep or a hang spends, and the child's own
    running, which its CPU limit (a third of the idle limit) bounds first. Machine load
    adds nothing to it, so a correct solution never meets the idle limit on a busy
    machine.
    """

    cpu_until: float  # the child's CPU seconds at which the wait ends
    seconds: float  # the CPU limit it was made with
    idle_limit: float
    start: float  # time.monotonic()
    child_waiting: float  # the child's waiting seconds at the start
    own_busy: float  # _own_busy() at the start
    next_check: float  # time.monotonic() at which the limits are next checked

    def idle(self, child_waiting: float) -> float:
        elapsed = time.monotonic() - self.start
        return (elapsed - (child_waiting - self.child_waiting)
                - (_own_busy() - self.own_busy))


def _scratch_name(submission: Path) -> str:
    """The submission's file name in scratch: its own if plain, else a safe one."""
    name = submission.name
    plain = re.fullmatch(r"[\w.-]{1,100}", name) and not name.startswith(".")
    return name if plain else f"submission{submission.suffix[:10]}"


def _plain_reply(reply: dict) -> dict:
    """A reply with the fields we read made plain: the child may be forging it."""
    checked = {key: reply[key] for key in ("value", "changed") if key in reply}
    if "stand_in" in reply:  # a question from a stand-in: read by stand_in_answer
        if not isinstance(reply["stand_in"], str):
            raise ValueError("its stand-in question names no function")
        checked.update({key: reply.get(key) for key in ("stand_in", "args", "kwargs")})
    if "fault" in reply:
        if not isinstance(reply["fault"], str):
            raise ValueError("its fault is not a name")
        checked.update(fault=Fault.named(reply["fault"]),
                       message=str(reply.get("message", ""))[:500],
                       where=str(reply["where"])[:300] if reply.get("where") else None)
    for key in ("ready", "confined", "notes"):
        if key in reply:
            items = reply[key] if isinstance(reply[key], list) else []
            checked[key] = [str(item)[:500] for item in items]
    if not isinstance(checked.get("changed", {}), dict):
        checked["changed"] = {}
    return checked


def stand_in_answer(question: dict, stand_ins: StandIns, arena: wire.Arena,
                    foresee: Foresee | None = None, ahead: int = 0) -> dict:
    """The trusted function's answer to a stand-in's question, as plain data (its arrays
    in the arena's exchange half), or an error the student's code sees; with foresee, and
    at most ahead of them, the answers to the questions likely to follow ("foreseen",
    each named by wire.question_key). The arguments
    come from student code: only arrays of at most two axes of STAND_IN_SIDE values
    each, numbers and dicts of them are taken, so no answer can grow beyond
    STAND_IN_SIDE squared values."""
    name = question["stand_in"]
    if name not in stand_ins:
        return {"error": f"the grader's {name} is not standing in for yours now"}
    try:
        _check_question_size([*question["args"], *question["kwargs"].values()])
        args = [_stand_in_argument(wire.from_plain(value, arena.read))
                for value in question["args"]]
        kwargs = {str(k): _stand_in_argument(wire.from_plain(v, arena.read))
                  for k, v in question["kwargs"].items()}
        with np.errstate(all="ignore"):
            answer = stand_ins[name](*args, **kwargs)
        if _values(answer) > STAND_IN_VALUES:
            raise ValueError(f"an answer of more than {STAND_IN_VALUES} values")
        value = wire.to_plain(answer, arena.exchange().place)
    except Exception as error:  # the student's arguments: the student's error
        return {"error": f"the grader's {name}, standing in for yours in this case, could "
                         f"not take these arguments ({type(error).__name__}: {error})"[:500]}
    return {"value": value, **_foreseen(foresee, name, args, answer, ahead)}


def _foreseen(foresee: Foresee | None, name: str, args: list, answer: Any,
              ahead: int) -> dict[str, list[dict]]:
    """The answers foresee sends ahead of their questions, at most ahead of them and
    STAND_IN_VALUES values in all; none if it fails on this question (it foresees a
    usual loop: a question it did not expect is no one's fault)."""
    if foresee is None or ahead <= 0:
        return {}
    try:
        with np.errstate(all="ignore"):
            foreseen = foresee(name, args, answer)[:ahead]
        if sum(_values(value) for _, _, value in foreseen) > STAND_IN_VALUES:
            return {}
        keyed = [(wire.question_key(question, arguments, {}), value)
                 for question, arguments, value in foreseen]
        entries = [{"key": key, "value": wire.to_plain(value)} for key, value in keyed if key]
    except Exception:
        return {}
    return {"foreseen": entries} if entries else {}


def _check_question_size(plain: list) -> None:
    """Before any array is read: a question's arrays hold at most STAND_IN_VALUES values in
    all (a shared block named twice counts twice) and its dicts, lists and tuples at most
    STAND_IN_ITEMS items (an honest question: a few thousand values, dicts of four)."""
    total, stack = 0, list(plain)
    while stack:
        item = stack.pop()
        if not isinstance(item, dict):
            continue
        if item.get("type") in ("dict", "list", "tuple"):
            items = item["items"]
            if len(items) > STAND_IN_ITEMS:
                raise ValueError(f"a {item['type']} of more than {STAND_IN_ITEMS} items")
            stack.extend(items.values() if isinstance(items, dict) else items)
        elif item.get("type") in ("ndarray", "shared"):
            described = wire.describe_array(item)
            if not isinstance(described, wire.Unreadable):
                total += math.prod(described[1])
        if total > STAND_IN_VALUES:
            raise ValueError(f"arrays of more than {STAND_IN_VALUES} values in all")


def _values(value: Any) -> int:
    """How many numbers an answer holds (arrays in dicts, lists and tuples)."""
    if isinstance(value, dict):
        return sum(map(_values, value.values()))
    if isinstance(value, (list, tuple)):
        return sum(map(_values, value))
    return int(np.size(value)) if isinstance(value, np.ndarray) else 1


def _stand_in_argument(value: Any) -> Any:
    """A stand-in's argument as the reference computes with it: numbers, dicts of them,
    and arrays of at most 2 axes of STAND_IN_SIDE values, in float64 (complex and
    extended-precision arrays, which numpy computes with slowly, are refused)."""
    if isinstance(value, dict):
        return {key: _stand_in_argument(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        if value.ndim > 2 or any(side > STAND_IN_SIDE for side in value.shape):
            raise ValueError(f"an array of shape {value.shape}; at most 2 axes of "
                             f"{STAND_IN_SIDE} values each")
        if value.dtype.kind == "c" or value.dtype.itemsize > 8:
            raise TypeError(f"an array of {value.dtype}; arrays of floats, integers or "
                            "booleans")
        return value.astype(np.float64)
    if type(value) not in (int, float):
        raise TypeError(f"a {type(value).__name__}; NumPy arrays, numbers or dicts of them")
    return value


def _with_line(reply: dict, text: str) -> str:
    where = reply.get("where")
    return f"{text} ({where})" if where else text
