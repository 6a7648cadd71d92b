"""Gradescope: what autograder.zip carries for it, and the run that grades one submission.

Gradescope unpacks autograder.zip into /autograder/source and runs setup.sh once, as
root, to build the image; then, for every submission, it runs run_autograder as root in
a fresh container with the student's files in /autograder/submission, and uploads
/autograder/results/results.json. Here setup.sh installs REQUIREMENTS with pip into the
image's python3, and run_autograder makes /autograder/source root's alone (the
reference, the hidden tests, course.yaml) before it runs ``main``, which first closes
the folders every user may write to (close_shared), then runs the same job as
``python -m autograder grade`` (collect, then grade_batch: the reference checked under
the limits, student code confined by every layer the container allows) on the student's
file, and results.json made from the result `grade` saves (results.py),
with the hidden cases shown as course.yaml's ``gradescope.hidden_visibility`` says and
the confinement layers that were missing in ``extra_data``, which Gradescope stores and
never shows students (nor the run's stdout: ``stdout_visibility`` is hidden).

The zip keeps otter's layout too (tests/, and files/ that otter copies beside the
submission), so ``otter run -a autograder.zip`` works as before. The folder that stands
for /autograder is AUTOGRADER_ROOT, and AUTOGRADER_SHARED names the shared folders, so a
test can lay one out anywhere.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder import text
from autograder.course import Course, Gradescope, load_course
from autograder.files import write_atomic
from autograder.jobs import grade_batch
from autograder.results import SavedResult, to_json
from autograder.submissions import SUFFIXES, collect

ROOT_VARIABLE, DEFAULT_ROOT = "AUTOGRADER_ROOT", "/autograder"
# the container's folders that every user may write to (os.pathsep between them)
SHARED_VARIABLE, DEFAULT_SHARED = "AUTOGRADER_SHARED", ("/tmp", "/var/tmp", "/dev/shm",
                                                        "/dev/mqueue", "/run/lock")
FILES, TESTS = "files", "tests"  # in the source folder: otter's layout
COURSE = f"{FILES}/course.yaml"  # the course as the grader reads it inside the zip
MOST_ENTRIES = 10_000  # files and folders looked at in one submission

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image: the packages
# our grader needs, pinned in requirements.txt, installed with pip into the image's python3.
set -euo pipefail
AUTOGRADER_ROOT="${AUTOGRADER_ROOT:-/autograder}"
if ! python3 -m pip --version >/dev/null 2>&1; then
    apt-get update
    apt-get install -y python3-pip
fi
python3 -m pip install --no-deps --only-binary=:all: \\
    -r "$AUTOGRADER_ROOT/source/requirements.txt"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this as root for every submission: our grader, with the student's code
# confined, grades AUTOGRADER_ROOT/submission into AUTOGRADER_ROOT/results/results.json.
set -euo pipefail
export AUTOGRADER_ROOT="${AUTOGRADER_ROOT:-/autograder}"
# the reference, the hidden tests and course.yaml: readable by root alone
chmod -R go-rwx "$AUTOGRADER_ROOT/source"
cd "$AUTOGRADER_ROOT/source/files"
exec python3 -m autograder.gradescope
"""

# What the grader imports when it grades, pinned: setup.sh installs exactly these (pip
# --no-deps). Python 3.11 and later get the versions the grader is tested with; Python
# 3.10 (Ubuntu 22.04's python3) the newest numpy that still supports it. Of otter-grader
# only the test-file parser is used, which needs none of its own dependencies.
REQUIREMENTS = """\
numpy==2.4.6; python_version >= "3.11"
numpy==2.2.6; python_version < "3.11"
otter-grader==7.0.0
pyseccomp==0.1.2
PyYAML==6.0.4
"""

SCRIPTS = {"setup.sh": SETUP, "run_autograder": RUN, "requirements.txt": REQUIREMENTS}
EXECUTABLE = frozenset({"setup.sh", "run_autograder"})


@dataclass(frozen=True)
class Layout:
    """Gradescope's folders under its root (/autograder there)."""

    root: Path

    @property
    def course(self) -> Path:
        return self.root / "source" / COURSE

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results_json(self) -> Path:
        return self.root / "results" / "results.json"


class Unusable(Exception):
    """The submission holds no file to grade, or more than one; the message says what to
    upload."""


def _candidates(folder: Path, upload: str) -> list[Path]:
    """Every .py and .ipynb file in the submission, its subfolders included, but not hidden
    ones (.ipynb_checkpoints, __MACOSX's ._ files). Links are never followed, and a file
    with other names (a hard link) is not the student's alone: it could be one of ours.
    Looks at MOST_ENTRIES files and folders at most (hidden ones too), however deep they
    are nested."""
    found, looked, folders = [], 0, [folder]
    while folders:
        entries = []
        try:
            with os.scandir(folders.pop()) as scan:
                for entry in scan:  # counted as read: a folder of millions stops early
                    looked += 1
                    if looked > MOST_ENTRIES:
                        raise Unusable(f"Your submission has more than {MOST_ENTRIES} files "
                                       f"and folders: {upload}.")
                    if not entry.name.startswith("."):
                        entries.append(entry)
        except OSError as error:
            raise Unusable(f"Your submission has a folder that cannot be read "
                           f"({error.strerror}): {upload}.") from None
        folders += [Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False)]
        found += [Path(entry.path) for entry in entries if entry.name.endswith(SUFFIXES)
                  and entry.is_file(follow_symlinks=False)
                  and entry.stat(follow_symlinks=False).st_nlink == 1]
    return sorted(found)


def choose(folder: Path, course: Course) -> list[Path]:
    """The student's file: the one named like course.yaml's student_file (the .py or the
    notebook; when both are there, `collect` takes the newest), else the only one there is."""
    stem = course.module
    upload = f"upload only {course.student_file} (or {stem}.ipynb) and submit again"
    found = _candidates(folder, upload)
    named = [path for path in found if path.stem == stem]
    chosen = named or found
    if not chosen:
        raise Unusable(f"Your submission has no {course.student_file} or {stem}.ipynb: "
                       f"{upload}.")
    if len(chosen) > 1 and (not named or len({path.parent for path in chosen}) > 1):
        names = text.one_line(", ".join(path.relative_to(folder).as_posix()
                                        for path in chosen))
        raise Unusable(f"Your submission has several files that could be your work "
                       f"({names}): {upload}.")
    return chosen


def for_gradescope(saved: SavedResult, settings: Gradescope, unprotected: list[str]) -> dict:
    """results.json from the result `grade` saved: hidden cases shown as the course
    chooses, the choice between files named first, the missing confinement layers for
    the instructor alone."""
    results = to_json(saved, settings.hidden_visibility)
    note = text.one_line(saved.note)
    output = f"{note}. {saved.output}" if note else saved.output
    return {**results, "output": output, "stdout_visibility": "hidden",
            "extra_data": {**results["extra_data"], "unprotected": unprotected}}


def refusal(message: str) -> dict:
    """results.json for a submission with nothing to grade: no points, and what to do."""
    return {"score": 0.0, "output": message, "tests": [], "stdout_visibility": "hidden"}


def grade(layout: Layout, out: Path, open_folders: list[str]) -> tuple[dict, str]:
    """Grade the submission in layout with our `grade` job into out: its results.json, and
    the log for the instructor (Gradescope shows run_autograder's stdout to staff only);
    open_folders: the shared folders close_shared could not close. A failure of the grader
    itself (course.yaml, the reference under the limits) raises."""
    course = load_course(layout.course)
    try:
        chosen = choose(layout.submission, course)
    except Unusable as problem:
        return refusal(str(problem)), f"score 0, status not graded: {text.one_line(str(problem))}"
    summary = grade_batch(course, collect(chosen, course, out / "unpacked"), out)
    [outcome] = summary.outcomes
    if outcome.state != "graded":
        raise RuntimeError(f"the grader failed on {chosen[0].name}: {outcome.detail}")
    [saved] = summary.results
    unprotected = summary.unprotected + open_folders
    return for_gradescope(saved, course.gradescope, unprotected), _log(saved, unprotected)


def _log(saved: SavedResult, unprotected: list[str]) -> str:
    """The score, the status and what it means, and the layers student code ran without."""
    lines = [f"score {saved.score:g}, status {saved.status} ({saved.status.instructor}): "
             + text.one_line(saved.output)]
    if unprotected:
        lines.append("warning: in this container student code ran without: "
                     + text.one_line("; ".join(unprotected)))
    return "\n".join(lines)


def shared_folders(layout: Layout) -> list[Path]:
    """The folders to close: AUTOGRADER_SHARED's, else, in Gradescope's own container
    (/autograder), DEFAULT_SHARED and the temporary folder; none elsewhere."""
    given = os.environ.get(SHARED_VARIABLE)
    if given is not None:
        return [Path(folder) for folder in given.split(os.pathsep) if folder]
    if layout.root != Path(DEFAULT_ROOT):
        return []
    return [Path(folder) for folder in (*DEFAULT_SHARED, tempfile.gettempdir())]


def close_shared(folders: list[Path]) -> list[str]:
    """Close folders that every user may write to (/tmp, /dev/shm, /dev/mqueue, ...), and
    the folders in them, to all but their owner, as Gradescope's container grades one
    submission and is thrown away. Student
    code, run as another user, can then write only in its own scratch folder, which is
    removed before the results are written, even where the container allows no private
    tmpfs: it cannot fill the disk the results go to, nor /dev/shm's memory. Returns
    those it could not close."""
    failed, stack = [], list(folders)
    while stack:  # and the folders in them, such as /tmp/.X11-unix: no recursion
        folder = stack.pop()
        try:
            mode = folder.lstat().st_mode
            if not stat.S_ISDIR(mode):
                continue
            if mode & (stat.S_IWGRP | stat.S_IWOTH):
                folder.chmod(stat.S_IMODE(mode) & ~(stat.S_IWGRP | stat.S_IWOTH))
            with os.scandir(folder) as entries:
                stack += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            continue
        except OSError as error:
            failed.append(f"{folder} closed to other users ({error.strerror})")
    return failed


def main() -> int:
    layout = Layout(Path(os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT)))
    try:
        open_folders = close_shared(shared_folders(layout))
        with tempfile.TemporaryDirectory(prefix="grade-") as temporary:
            results, log = grade(layout, Path(temporary), open_folders)
    except BaseException:
        layout.results_json.unlink(missing_ok=True)  # no score from a failed run, whoever wrote it
        raise
    write_atomic(layout.results_json, json.dumps(results, indent=2) + "\n")
    print(text.terminal(log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
