"""Every way a submission's run can end, and every fault of student code that leads there.

A run ends with one ``Status``: its name (what grades.csv and results.json say), its
severity, the one sentence a student reads and the one an instructor reads. A
``Fault`` is how loading the file, or one call of a student function, went wrong:
child.py and sandbox.py name faults by these names (child.py, loaded by path, sends
them as plain strings; sandbox._plain_reply reads them with ``Fault.named``), and each
fault leads to a status.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

_N = TypeVar("_N", bound="_Named")


class _Named(str, Enum):
    """A member is also its name as a plain string: in JSON, CSV and comparisons."""

    @classmethod
    def by_name(cls: type[_N], name: object) -> _N:
        """The member named name (what ``cls(name)`` does, where the members' own
        ``__new__`` hides it from a type checker); ValueError for any other name."""
        for member in cls:
            if member.value == name:
                return member
        raise ValueError(f"{name!r} is not a valid {cls.__name__}")

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Status(_Named):
    """How a submission's run ended. Of the statuses its calls' faults lead to, the most
    severe names the submission; a file that did not load has the status of that."""

    severity: int
    student: str
    instructor: str

    def __new__(cls, name: str, severity: int, student: str, instructor: str) -> Status:
        status = str.__new__(cls, name)
        status._value_ = name
        status.severity, status.student, status.instructor = severity, student, instructor
        return status

    OK = ("ok", 0, "Your file was graded.",
          "It loaded and every case ran.")
    NOT_ATTEMPTED = ("not_attempted", 1,
                     "None of the functions is written yet: each still raises "
                     "NotImplementedError.",
                     "Every function still raises NotImplementedError: the stub as handed out.")
    MISSING_FUNCTION = ("missing_function", 2,
                        "Some functions are missing from your file; check their names.",
                        "A function the tests call is not defined in the file (misspelt or "
                        "deleted).")
    EXIT = ("exit", 3, "Your code stopped the program (sys.exit, os._exit or similar).",
            "The code ended its own process (sys.exit, os._exit); the cases it ended failed.")
    CRASHED = ("crashed", 4, "Your code crashed the process that ran it.",
               "The code's process died of a signal (a segmentation fault, say) or sent the "
               "grader a message it could not read.")
    OUTPUT = ("output", 5, "Your code printed or wrote more than allowed.",
              "The code wrote a file past the size limit, or sent a reply too large to read.")
    MEMORY = ("memory", 6, "Your code used more memory than allowed.",
              "The code ran out of memory (limits.memory_mb).")
    TIMEOUT = ("timeout", 7, "Your code took longer than the time limit.",
               "A call or the loading ran past its limit, or the submission used up "
               "limits.submission_seconds.")
    IMPORT_ERROR = ("import_error", 8,
                    "Your file raised an error while loading, so nothing in it could run.",
                    "The file raised an error while loading (or is larger than the grader "
                    "reads); no case could run.")
    SYNTAX_ERROR = ("syntax_error", 9,
                    "Your file has a syntax error, so nothing in it could run.",
                    "The file is not valid Python; no case could run.")
    BAD_NOTEBOOK = ("bad_notebook", 10,
                    "Your notebook file is damaged (not valid notebook JSON), so nothing in it "
                    "could run; download it again from Jupyter.",
                    "The notebook is not readable nbformat 4 JSON; no case could run.")


class Fault(_Named):
    """How loading a file, or one call of a student function, went wrong."""

    on_load: Status  # the submission's status when loading its file ends so
    in_call: Status  # ... when a call ends so (OK: only that call's case fails)
    verb: str  # how a message of child.py's is told: "mse raised ZeroDivisionError: ..."

    def __new__(cls, name: str, on_load: Status, in_call: Status, verb: str) -> Fault:
        fault = str.__new__(cls, name)
        fault._value_ = name
        fault.on_load, fault.in_call, fault.verb = on_load, in_call, verb
        return fault

    SYNTAX = ("syntax", Status.SYNTAX_ERROR, Status.OK, "raised")
    ERROR = ("error", Status.IMPORT_ERROR, Status.OK, "raised")
    TODO = ("todo", Status.IMPORT_ERROR, Status.OK, "is not written yet: it still raises")
    NOTEBOOK = ("notebook", Status.BAD_NOTEBOOK, Status.OK, "could not be read:")
    MISSING = ("missing", Status.MISSING_FUNCTION, Status.MISSING_FUNCTION, "is missing:")
    EXIT = ("exit", Status.EXIT, Status.EXIT, "called")
    CRASHED = ("crashed", Status.CRASHED, Status.CRASHED, "crashed:")
    OUTPUT = ("output", Status.OUTPUT, Status.OUTPUT, "wrote too much:")
    MEMORY = ("memory", Status.MEMORY, Status.MEMORY, "ran out of memory:")
    TIMEOUT = ("timeout", Status.TIMEOUT, Status.TIMEOUT, "ran out of time:")

    @classmethod
    def named(cls, name: object) -> Fault:
        """The fault a message from student code's process names; any other name (the
        process may forge its messages) is ERROR."""
        try:
            return cls.by_name(name)
        except ValueError:
            return cls.ERROR


def status_of(loaded: Status, faults: list[Fault | None], passed: int) -> Status:
    """The one status that best describes a run: how loading went, else the most severe
    status its failed cases' faults (None: the test's own check failed) lead to; a run
    whose every case failed because its functions are not written yet is NOT_ATTEMPTED."""
    if loaded is not Status.OK:
        return loaded
    if faults and not passed and set(faults) == {Fault.TODO}:
        return Status.NOT_ATTEMPTED
    return max((fault.in_call for fault in faults if fault), key=lambda s: s.severity,
               default=Status.OK)
