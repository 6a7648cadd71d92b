"""Sandbox users: each live grader on a machine runs student code under its own uid.

A fork server claims the first free uid of a fixed range by holding an
exclusive lock on that uid's lock file for as long as it runs; the kernel
drops the lock when the process ends, however it ends. Two graders running at
once therefore never share a sandbox user, and no student's process can
signal or read another grader's students.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import SetupError

FIRST, COUNT = 61000, 1000


@dataclass(frozen=True)
class Uid:
    """A claimed sandbox uid and the descriptor whose lock holds the claim."""

    number: int
    lock: int

    def release(self) -> None:
        os.close(self.lock)


def lock_folder() -> Path:
    """Where the lock files live: a root-owned folder no one else may write to."""
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    folder = base / "backprop-grader-uids"
    try:
        folder.mkdir(mode=0o755)
    except FileExistsError:
        pass
    info = folder.lstat()
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
            or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        raise SetupError(f"{folder}: must be a folder owned by the grader's user and "
                           "writable by no one else; remove it and grade again")
    return folder


def claim_uid() -> Uid:
    """The first sandbox uid that no other live grader holds."""
    folder = lock_folder()
    for number in range(FIRST, FIRST + COUNT):
        fd = os.open(folder / f"{number}.lock",
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return Uid(number, fd)
    raise SetupError(f"all {COUNT} sandbox users from uid {FIRST} are taken by running "
                       "graders; wait for one to finish")
