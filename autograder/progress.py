"""Progress of a long batch on stderr: a bar with rate and ETA on a terminal,
plain lines every few seconds otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, NoReturn

from autograder.jobs import Outcome
from autograder.text import NAME_CHARS, one_line, terminal

if TYPE_CHECKING:
    from tqdm import tqdm


class Progress:
    def __init__(self, stream=None, every: float = 5.0):
        self.stream = stream or sys.stderr
        self.every = every
        self.bar: tqdm[NoReturn] | None = None  # a bar over no iterable

    def start(self, total: int, skipped: int) -> None:
        self.total, self.done, self.skipped = total, skipped, skipped
        self.began = time.monotonic()
        self.last = self.began
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=skipped, unit="sub", file=self.stream,
                            desc="grading")
        elif skipped:
            print(terminal(f"{skipped} of {total} unchanged since the last run; skipped"),
                  file=self.stream)

    def advance(self, outcome: Outcome) -> None:
        self.done += 1
        if outcome.state == "failed":
            message = terminal(f"could not grade {one_line(outcome.student, NAME_CHARS)}: "
                               f"{one_line(outcome.detail)}")
            (self.bar.write if self.bar else lambda m: print(m, file=self.stream))(message)
        if self.bar:
            self.bar.update()
            return
        now = time.monotonic()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            rate = (self.done - self.skipped) / max(now - self.began, 1e-9)
            print(terminal(f"graded {self.done}/{self.total} ({rate:.1f}/s)"),
                  file=self.stream)

    def close(self) -> None:
        if self.bar:
            self.bar.close()
