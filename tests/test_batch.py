"""Bulk grading: parallel, resumable, every input layout, the nbgrader gradebook."""

from __future__ import annotations

import csv
import dataclasses
import fcntl
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import CLASS, ROOT, SUBMISSIONS, descendants

from autograder import jobs
from autograder.errors import CourseError, InputError
from autograder.jobs import grade_batch
from autograder.submissions import collect

REFERENCE = ROOT / "solutions" / "backprop.py"
STUB = ROOT / "exercises" / "backprop.py"
BUGGY = SUBMISSIONS / "buggy"


def make_class(folder: Path, names: dict[str, Path] = CLASS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for student, source in names.items():
        shutil.copy(source, folder / f"{student}.py")
    return folder


def results(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))}


def without_keys(saved: dict[str, dict]) -> dict[str, dict]:
    """Results minus the content hash, to compare runs of different folders."""
    return {s: {**r, "extra_data": {k: v for k, v in r["extra_data"].items() if k != "key"}}
            for s, r in saved.items()}


def grade(course, folder: Path, out: Path, **options):
    return grade_batch(course, collect([folder], course, out / "unpacked"), out, **options)


@dataclasses.dataclass(frozen=True)
class TwoJobs:
    folder: Path
    out: Path
    summary: object  # the BatchSummary


@pytest.fixture(scope="module")
def two_jobs(quick_course, tmp_path_factory) -> TwoJobs:
    """CLASS graded afresh by two grading processes; tests that change it work on copies."""
    folder = make_class(tmp_path_factory.mktemp("two-jobs") / "class")
    out = folder.with_name("out")
    return TwoJobs(folder, out, grade(quick_course, folder, out, jobs=2))


def test_parallel_grading_gives_the_same_results_as_one_job(graded_class, two_jobs):
    one, two = graded_class.out, two_jobs.out  # one: jobs=1 (conftest.graded_class)
    assert results(one) == results(two)
    assert (one / "grades.csv").read_text() == (two / "grades.csv").read_text()
    assert len(results(one)) == len(CLASS)


def test_a_rerun_skips_unchanged_and_regrades_changed(quick_course, two_jobs, tmp_path):
    folder = shutil.copytree(two_jobs.folder, tmp_path / "class")
    out = shutil.copytree(two_jobs.out, tmp_path / "out")
    first = two_jobs.summary
    assert first.count("graded") == len(CLASS)
    before = results(out)
    shutil.copy(REFERENCE, folder / "bo.py")
    second = grade(quick_course, folder, out, jobs=2)
    assert (second.count("graded"), second.count("skipped")) == (1, len(CLASS) - 1)
    after = results(out)
    assert after["bo"]["score"] == 100 and before["bo"]["score"] == 0
    assert {s: r for s, r in after.items() if s != "bo"} == {
        s: r for s, r in before.items() if s != "bo"}
    forced = grade(quick_course, folder, out, jobs=2, force=True)
    assert forced.count("graded") == len(CLASS)


def test_changing_the_tests_regrades_everyone(quick_course, tmp_path):
    folder = make_class(tmp_path / "class", {"ada": REFERENCE, "bo": STUB})
    out = tmp_path / "out"
    grade(quick_course, folder, out)
    saved = results(out)
    saved["ada"]["extra_data"]["key"] = "an older version of the tests"
    (out / "results" / "ada.json").write_text(json.dumps(saved["ada"]))
    again = grade(quick_course, folder, out)
    assert (again.count("graded"), again.count("skipped")) == (1, 1)


NINE = {f"s{i:02d}": path for i, path in enumerate((list(CLASS.values()) * 2)[:9])}


def grade_command(folder: Path) -> list[str]:
    """`grade` of folder by a grader of its own, with two grading processes; --out OUT next."""
    return [sys.executable, "-m", "autograder", "--course", str(ROOT / "course.yaml"),
            "grade", str(folder), "--jobs", "2", "--out"]


def grade_nine_cleanly(setup) -> Path:
    """NINE graded by a clean run, nothing killed (in the background: conftest.Background):
    its output folder."""
    folder = make_class(setup.tmp_path_factory.mktemp("clean") / "class", NINE)
    clean = folder.with_name("out")
    subprocess.run([*grade_command(folder), str(clean)], cwd=ROOT, check=True,
                   capture_output=True)
    return clean


@pytest.mark.quiet  # the kill must come mid-batch, and its processes end within 0.5 s
def test_sigkill_mid_batch_then_rerun_equals_a_clean_run(background, tmp_path):
    folder = make_class(tmp_path / "class", NINE)
    command = grade_command(folder)
    killed = tmp_path / "killed"
    run = subprocess.Popen([*command, str(killed)], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    while len(list((killed / "results").glob("*.json"))) < 3 and run.poll() is None:
        time.sleep(0.05)
    started = descendants(run.pid)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert len(list((killed / "results").glob("*.json"))) < len(NINE), "killed too late"
    time.sleep(0.5)
    assert [pid for pid in started if _alive(pid)] == []
    subprocess.run([*command, str(killed)], cwd=ROOT, check=True, capture_output=True)
    clean = background.result("clean run", grade_nine_cleanly)
    assert results(killed) == results(clean)
    assert (killed / "grades.csv").read_text() == (clean / "grades.csv").read_text()
    assert not [p for p in killed.rglob(".*") if p.is_file()], "temporary files left behind"


def _children(pid: int) -> list[int]:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def grading_a_student(batch: int) -> list[int]:
    """The grading processes of a batch (pid batch) that are grading a student now: below
    each, its fork server (child.py), and below that the student's process. (Not a process
    forked on its way to becoming a fork server, which has the grader's command line too.)"""
    return [pid for pid in descendants(batch) if _is_grading_process(pid)
            and any(_children(server) for server in _children(pid)
                    if b"child.py" in _command_line(server))]


BACKGROUND = {"clean run": grade_nine_cleanly}


def test_a_grading_process_killed_mid_batch_costs_no_student_a_row(tmp_path):
    """The kill waits for a grading process to be grading a student, however long that
    takes on a busy machine, so it always lands mid-batch."""
    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(1.5)\n" + REFERENCE.read_text())
    names = {f"s{i}": slow for i in range(6)}
    folder = make_class(tmp_path / "class", names)
    out = tmp_path / "out"
    run = subprocess.Popen([*grade_command(folder), str(out)], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    graders: list[int] = []
    while not graders and run.poll() is None:
        graders = grading_a_student(run.pid)
        time.sleep(0.05)
    assert graders, "the batch ended before a grading process was seen grading a student"
    os.kill(graders[0], signal.SIGKILL)
    output = run.communicate(timeout=120)[0].decode()
    assert run.returncode == 0, output
    assert sorted(results(out)) == sorted(names)


def test_grading_into_a_folder_keeps_the_instructors_own_dotfiles(quick_course, tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    mine = {".env.local": "SECRET=1\n", ".gitlab-ci.yml": "test: {}\n", ".x.py": "y = 1\n"}
    for name, text in mine.items():
        (out / name).write_text(text)
    grade(quick_course, make_class(tmp_path / "class", {"ada": REFERENCE}), out)
    assert {name: (out / name).read_text() for name in mine} == mine

def test_a_second_grade_into_the_same_folder_stops_at_once(quick_course, tmp_path):
    """Two runs writing one OUT folder (or one nbgrader course's gradebook) would mix their
    files: the second stops before grading anyone, saying what to do."""
    out = tmp_path / "out"
    out.mkdir()
    with open(out / "grading.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(InputError, match="another `grade` is writing there now"):
            grade(quick_course, make_class(tmp_path / "class", {"ada": REFERENCE}), out)
    assert not (out / "results").exists()
    (out / "grading.lock").unlink()
    (out / "grading.lock").mkdir()  # not a file: one clear line, not a traceback
    with pytest.raises(InputError, match=r"grading.lock: cannot be locked for this run"):
        grade(quick_course, make_class(tmp_path / "class2", {"ada": REFERENCE}), out)


def _is_grading_process(pid: int) -> bool:
    """A forked grading process: our own command line, not the fork server or a helper."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"autograder" in command and b"child.py" not in command


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_grades_csv_round_trips_through_csv(graded_class):
    text = (graded_class.out / "grades.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    assert buffer.getvalue() == text
    assert [r[0] for r in rows[1:]] == sorted(CLASS)
    assert all(len(r) == len(rows[0]) == 10 for r in rows)


def canvas_name(student: str, late: bool, submission_id: int) -> str:
    return f"{student}{'_LATE' if late else ''}_{1000 + submission_id}_{submission_id}_backprop.py"


def test_canvas_zip_gives_ids_late_flags_and_newest_files(quick_course, tmp_path):
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(zipfile.ZipInfo(canvas_name("smithjane", False, 1), (2026, 3, 1, 9, 0, 0)),
                        STUB.read_text())
        bundle.writestr(zipfile.ZipInfo("smithjane_1001_7_backprop-1.py", (2026, 3, 2, 9, 0, 0)),
                        REFERENCE.read_text())
        bundle.writestr(zipfile.ZipInfo(canvas_name("leejo", True, 3), (2026, 3, 3, 9, 0, 0)),
                        REFERENCE.read_text())
    found = collect([archive], quick_course, tmp_path / "out" / "unpacked")
    assert [(s.student, s.late) for s in found] == [("leejo", True), ("smithjane", False)]
    assert found[1].path.name == "smithjane_1001_7_backprop-1.py"
    assert "graded the newest, smithjane_1001_7_backprop-1.py" in found[1].note
    summary = grade_batch(quick_course, found, tmp_path / "out")
    rows = list(csv.reader((tmp_path / "out" / "grades.csv").open()))
    assert [(r[0], r[1], r[-1]) for r in rows[1:]] == [("leejo", "100", "yes"),
                                                       ("smithjane", "100", "no")]
    assert summary.count("graded") == 2


def test_an_extracted_canvas_folder_is_read_the_same_way(quick_course, tmp_path):
    folder = tmp_path / "canvas"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / canvas_name("smithjane", True, 4))
    found = collect([folder], quick_course, tmp_path / "unpacked")
    assert [(s.student, s.late) for s in found] == [("smithjane", True)]


def test_nbgrader_submitted_layout(quick_course, tmp_path):
    submitted = tmp_path / "course" / "submitted"
    for student in ("ana", "ben"):
        (submitted / student / "backprop").mkdir(parents=True)
        shutil.copy(REFERENCE, submitted / student / "backprop" / "backprop.py")
        (submitted / student / "backprop" / "timestamp.txt").write_text("2026-03-01 09:00:00")
    found = collect([submitted], quick_course, tmp_path / "unpacked")
    assert [(s.student, s.path.parent.parent.name) for s in found] == [("ana", "ana"),
                                                                       ("ben", "ben")]


@pytest.mark.parametrize("make, words", [
    (lambda p: (p / "notes.txt").write_text("hi"), "no submissions found; expected student"),
    (lambda p: None, "no submissions found"),
])
def test_an_unknown_layout_is_one_clear_error(quick_course, tmp_path, make, words):
    folder = tmp_path / "stuff"
    folder.mkdir()
    make(folder)
    with pytest.raises(InputError, match=words):
        collect([folder], quick_course, tmp_path / "unpacked")


def test_a_corrupt_zip_is_one_clear_error(quick_course, tmp_path):
    archive = tmp_path / "submissions.zip"
    archive.write_text("not a zip")
    with pytest.raises(InputError, match="submissions.zip: not a readable zip file"):
        collect([archive], quick_course, tmp_path / "unpacked")


def test_gradebook_scores_are_readable_with_plain_sqlite(graded_class):
    out = graded_class.out  # graded with own_gradebook=True
    with sqlite3.connect(out / "gradebook.db") as db:
        total = db.execute("select sum(auto_score) from grade").fetchone()[0]
    scores = {student: saved["score"] for student, saved in results(out).items()}
    assert scores["ada"] == 100 and sorted(scores) == sorted(CLASS)
    assert total == pytest.approx(sum(scores.values()))


@pytest.mark.parametrize("setting", [{"memory_mb": 40}, {"call_seconds": 0.001}])
def test_limits_too_small_for_the_reference_stop_the_run(quick_course, tmp_path, setting):
    limits = dataclasses.replace(quick_course.limits, **setting)
    course = dataclasses.replace(quick_course, limits=limits)
    with pytest.raises(CourseError, match="the reference itself scores .*/100 with these tests "
                                          "and limits .*raise limits.call_seconds"):
        grade(course, make_class(tmp_path / "class", {"ada": REFERENCE}), tmp_path / "out")


def test_the_reference_is_checked_once_per_course_in_an_output_folder(
        quick_course, tmp_path, monkeypatch):
    checked = []
    monkeypatch.setattr(jobs, "_check_limits", lambda course, *_: checked.append(course))
    out, other = tmp_path / "out", dataclasses.replace(
        quick_course, limits=dataclasses.replace(quick_course.limits, memory_mb=500))
    for course, student in ((quick_course, "ada"), (quick_course, "bo"), (other, "cy")):
        grade(course, make_class(tmp_path / student, {student: REFERENCE}), out)
    assert checked == [quick_course, other]


def test_a_name_a_spreadsheet_would_run_is_written_inert(quick_course, tmp_path):
    name = '=HYPERLINK(CONCAT("http:",CHAR(47),"example.invalid"),"bob")'
    out = tmp_path / "out"
    grade(quick_course, make_class(tmp_path / "class", {name: REFERENCE}), out)
    with open(out / "grades.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[1][0] == "'" + name
