"""An nbgrader course: nbgrader's own commands around our grade, and the gradebook.

The course goes through a local exchange as on JupyterHub: generate_assignment,
release_assignment, fetch_assignment and submit for two students, collect; then our
grade; then export, generate_feedback, release_feedback and formgrader's API.
"""

from __future__ import annotations

import copy
import csv
import fcntl
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import CLASS, ROOT, alembic_heads_read_once
from test_batch import results

from autograder import nbgrader_course
from autograder.cli import main
from autograder.submissions import nbgrader_gradebook

COURSE_YAML = str(ROOT / "course.yaml")
COURSE_ID = "course"  # release --nbgrader names the course after its folder
# the functions each leaves as stubs; None: submits the notebook as released, all stubs
STUDENTS = {"alice": (), "bob": ("update", "train"), "cy": None}
EXERCISES = ("mse", "forward", "backprop", "update", "train")


@dataclass(frozen=True)
class Classroom:
    root: Path
    course: Path
    out: Path
    environment: dict

    def nbgrader(self, folder: Path, *args: str) -> None:
        """`nbgrader ARGS` run in folder, in this process as nbgrader's own tests run it
        (a new process would spend seconds importing nbgrader)."""
        from jupyter_core.application import NoStart
        from nbgrader.apps import NbGraderApp

        saved = os.environ.copy(), os.getcwd(), list(sys.path)
        os.environ.update(self.environment)
        os.chdir(folder)
        app = NbGraderApp.instance()
        try:
            app.initialize(list(args))
            app.start()
        except NoStart:  # the subcommand ran during initialize
            pass
        except SystemExit as stop:  # nbgrader's way to fail
            pytest.fail(f"nbgrader {' '.join(args)} exited with {stop.code}")
        finally:
            app.reset()
            # back to the saved environment without emptying it on the way: the suite's
            # background threads start processes meanwhile (conftest.Background)
            for key in set(os.environ) - set(saved[0]):
                del os.environ[key]
            os.environ.update(saved[0])
            os.chdir(saved[1])
            sys.path[:] = saved[2]

    def grade(self, *options: str) -> None:
        """README's `grade` step, run in the course's folder."""
        cwd = os.getcwd()
        os.chdir(self.course)
        try:
            assert main(["--course", COURSE_YAML, "grade", "submitted", "--out", "results",
                         "--jobs", "2", *options]) == 0
        finally:
            os.chdir(cwd)

    def ours(self, student: str) -> dict:
        return json.loads((self.out / "results" / f"{student}.json").read_text())

    def api(self):
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        config = Config()
        config.CourseDirectory.root = str(self.course)
        config.CourseDirectory.course_id = COURSE_ID
        config.Exchange.root = str(self.root / "exchange")
        return NbGraderAPI(CourseDirectory(config=config), config=config)

    def copy(self, name: str) -> Classroom:
        """The course and our results copied, for a test that changes them."""
        root = self.root.parent / f"{self.root.name}-{name}"
        shutil.copytree(self.root, root, symlinks=True)
        return Classroom(root, root / "course", root / "course" / "results", self.environment)


def solve(notebook: Path, source: Path, stubs: tuple[str, ...]) -> None:
    """A student's work: each solution cell from the source notebook, but the stubs."""
    answers = {cell.metadata["nbgrader"]["grade_id"]: cell.source
               for cell in nbformat.read(source, 4).cells}
    work = nbformat.read(notebook, 4)
    for cell in work.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not any(f"def {name}(" in cell.source for name in stubs):
            cell.source = answers[meta["grade_id"]]
    nbformat.write(work, notebook)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Classroom:
    """README's steps, with students fetching and submitting through a local exchange."""
    root = tmp_path_factory.mktemp("nbgrader")
    course = root / "course"
    (root / "exchange").mkdir(mode=0o777)
    (root / "jupyter").mkdir()  # the machine's nbgrader settings: where the exchange is
    (root / "jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(root / 'exchange')!r}\n")
    environment = {"JUPYTER_CONFIG_DIR": str(root / "jupyter"),  # and alembic on the PATH:
                   "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    room = Classroom(root, course, course / "results", environment)
    alembic_heads_read_once()
    assert main(["--course", COURSE_YAML, "release", "--out", str(root / "release"),
                 "--nbgrader", str(course)]) == 0
    room.nbgrader(course, "generate_assignment", "backprop")
    room.nbgrader(course, "release_assignment", "backprop")
    for student, stubs in STUDENTS.items():
        home = root / student
        home.mkdir()
        room.nbgrader(home, "fetch_assignment", "backprop", "--course", COURSE_ID)
        if stubs is not None:
            solve(home / "backprop" / "backprop.ipynb",
                  course / "source" / "backprop" / "backprop.ipynb", stubs)
        room.nbgrader(home, "submit", "backprop", "--course", COURSE_ID, "--student", student)
    room.nbgrader(course, "collect", "backprop")
    room.grade()
    room.nbgrader(course, "export")
    room.nbgrader(course, "generate_feedback", "backprop")
    room.nbgrader(course, "release_feedback", "backprop")
    return room


def test_release_writes_a_course_nbgrader_can_use(classroom):
    config = classroom.course / "nbgrader_config.py"
    assert f"course_id = {COURSE_ID!r}" in config.read_text()
    umask = os.umask(0)
    os.umask(umask)
    for path in (config, classroom.course / "source" / "backprop" / "backprop.ipynb"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def test_the_released_notebook_has_the_stubs_and_no_solution(classroom):
    released = nbformat.writes(nbformat.read(
        classroom.course / "release" / "backprop" / "backprop.ipynb", 4))
    assert "BEGIN SOLUTION" not in released
    assert "raise NotImplementedError()" in released


def test_autograded_notebooks_hold_our_results_in_their_grade_cells(classroom):
    for student in STUDENTS:
        folder = classroom.course / "autograded" / student / "backprop"
        assert (folder / "timestamp.txt").read_text() == (
            classroom.course / "submitted" / student / "backprop" / "timestamp.txt").read_text()
        cells = {cell.metadata["nbgrader"]["grade_id"]: cell
                 for cell in nbformat.read(folder / "backprop.ipynb", 4).cells
                 if cell.metadata.get("nbgrader", {}).get("grade")}
        assert sorted(cells) == sorted(EXERCISES)
        ours = classroom.ours(student)
        for exercise, cell in cells.items():
            [result] = [o for o in cell.outputs if o.output_type == "execute_result"]
            assert float(result.data["text/plain"]) == ours["extra_data"]["exercises"][exercise]
        printed = "".join(o.text for cell in cells.values() for o in cell.outputs
                          if o.output_type == "stream")
        for test in ours["tests"]:
            assert test["name"] in printed
            assert test["score"] or test["output"].splitlines()[0] in printed


def test_formgrader_shows_our_scores_as_autograded(classroom):
    api = classroom.api()
    submissions = {s["student"]: s for s in api.get_submissions("backprop")}
    notebooks = {n["student"]: n for n in api.get_notebook_submissions("backprop", "backprop")}
    assert (classroom.ours("alice")["score"], 0 < classroom.ours("bob")["score"] < 100) == (
        100, True)
    for student in STUDENTS:
        score = classroom.ours(student)["score"]
        submission = api.get_submission("backprop", student)
        assert submissions[student]["score"] == submission["score"]
        assert (submission["autograded"], submission["needs_manual_grade"]) == (True, False)
        assert (submission["score"], submission["max_score"]) == (pytest.approx(score), 100)
        assert submission["timestamp"] is not None
        assert notebooks[student]["score"] == pytest.approx(score)
        assert notebooks[student]["needs_manual_grade"] is False


def test_export_has_our_scores_and_the_timestamps(classroom):
    with open(classroom.course / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    for student in STUDENTS:
        assert float(rows[student]["score"]) == classroom.ours(student)["score"]
        assert float(rows[student]["max_score"]) == 100
        assert rows[student]["timestamp"]
    assert (float(rows["alice"]["score"]), float(rows["cy"]["score"])) == (100, 0)


def test_feedback_shows_our_scores_and_text(classroom):
    ours = classroom.ours("bob")
    page = (classroom.course / "feedback" / "bob" / "backprop" / "backprop.html").read_text()
    assert f"Score: {ours['score']:g}" in page or f"{ours['score']:.1f}" in page
    failed = next(t for t in ours["tests"] if not t["score"])
    assert failed["name"] in page
    released = list((classroom.root / "exchange" / COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == len(STUDENTS)


def test_nbgrader_commands_still_work_after_our_grade(classroom):
    classroom.nbgrader(classroom.course, "generate_assignment", "backprop", "--force")
    classroom.nbgrader(classroom.course, "autograde", "backprop")  # all done: skips
    api = classroom.api()
    for student in STUDENTS:
        assert api.get_submission("backprop", student)["score"] == pytest.approx(
            classroom.ours(student)["score"])


def test_a_manual_grade_survives_a_regrade_of_unchanged_files(classroom):
    room = classroom.copy("manual")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{room.course / 'gradebook.db'}") as book:
        book.find_grade("update", "backprop", "backprop", "bob").manual_score = 4
        cell = book.find_notebook("backprop", "backprop").solution_cells[0].name
        book.find_comment(cell, "backprop", "backprop", "bob").manual_comment = "See me."
        book.db.commit()
    room.grade()
    with Gradebook(f"sqlite:///{room.course / 'gradebook.db'}") as book:
        assert book.find_grade("update", "backprop", "backprop", "bob").manual_score == 4
        assert book.find_comment(cell, "backprop", "backprop", "bob").manual_comment == "See me."
        assert book.find_submission("backprop", "alice").score == 100


def test_nbgrader_autograde_first_then_our_grade_force_gives_ours(classroom):
    room = classroom.copy("theirs-first")
    shutil.rmtree(room.course / "autograded")
    room.nbgrader(room.course, "autograde", "backprop", "--student", "bob", "--force")
    room.grade("--force")
    api = room.api()
    for student in STUDENTS:
        submission = api.get_submission("backprop", student)
        assert submission["score"] == pytest.approx(room.ours(student)["score"])
        assert (submission["autograded"], submission["needs_manual_grade"]) == (True, False)


def tampered(room: Classroom, student: str, name: str = "backprop.ipynb", script: bool = False,
             task: bool = False, hidden: bool = False, unreadable: bool = False,
             pasted: bool = False) -> Path:
    """A student's submission made from bob's: renamed; with script in cells of its own
    (markdown, a javascript: link, raw HTML); with the first locked markdown cell made a
    task (nbgrader's checksums ignore that flag); with the reference's code hidden in the
    last locked markdown cell, made a code cell (which autograde restores, and formgrader
    shows restored); with a locked cell that has no id, which nbgrader cannot read; or
    with each solution cell copied and pasted below itself, as Jupyter does it."""
    folder = room.course / "submitted" / student / "backprop"
    shutil.copytree(room.course / "submitted" / "bob" / "backprop", folder)
    notebook = nbformat.read(folder / "backprop.ipynb", 4)
    locked = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"
              and cell.metadata.get("nbgrader", {}).get("locked")]
    if task:
        notebook.cells[locked[0]].metadata["nbgrader"]["task"] = True
    if hidden:
        notebook.cells[locked[-1]] = nbformat.v4.new_code_cell(
            (ROOT / "solutions" / "backprop.py").read_text(),
            metadata=notebook.cells[locked[-1]].metadata)
    if pasted:
        notebook.cells = [kept for cell in notebook.cells for kept in (
            [cell, nbformat.from_dict({**copy.deepcopy(cell), "id": f"{cell.id}-copy"})]
            if cell.metadata.get("nbgrader", {}).get("solution") else [cell])]
    if unreadable:
        notebook.cells.append(nbformat.v4.new_markdown_cell(
            "notes", metadata={"nbgrader": {"locked": True, "schema_version": 3}}))
    if script:
        notebook.cells += [
            nbformat.v4.new_markdown_cell("<script>document.title = 'owned'</script>\r"
                                          "<img src=x onerror=alert(1)>"),
            nbformat.v4.new_markdown_cell("[my derivation](javascript:alert(1))"),
            nbformat.v4.new_raw_cell("<b onmouseover=alert(1)>raw</b>",
                                     metadata={"raw_mimetype": "text/html"})]
    (folder / "backprop.ipynb").unlink()
    nbformat.write(notebook, folder / name)
    return folder


def test_a_tampered_or_misnamed_notebook_is_graded_and_harms_no_one_else(classroom):
    room = classroom.copy("tampered")
    tampered(room, "aaa", task=True, script=True)  # graded before everyone else
    dan = tampered(room, "dan", name="backprop (1).ipynb")
    os.mkfifo(dan / "old.ipynb")  # and no file named backprop.py, but a folder
    (dan / "backprop.py").mkdir()
    tampered(room, "fay", hidden=True)  # graded as autograde runs it: locked cells restored
    tampered(room, "gus", hidden=True, unreadable=True)  # nbgrader could not: nothing runs
    tampered(room, "hal", pasted=True)  # an honest student's copy and paste
    for student, make in (("ivy", lambda path: path.symlink_to(  # the solutions, linked
            room.course / "source" / "backprop" / "backprop.ipynb")), ("joe", os.mkfifo)):
        (tampered(room, student) / "backprop.ipynb").unlink()
        make(room.course / "submitted" / student / "backprop" / "backprop.ipynb")
    eve = tampered(room, "eve")  # and a newer .py that is not the notebook nbgrader grades
    time.sleep(0.01)
    shutil.copy(ROOT / "solutions" / "backprop.py", eve / "backprop.py")
    room.grade()
    room.nbgrader(room.course, "export")
    with open(room.course / "grades.csv", newline="") as handle:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    bob = room.ours("bob")["score"]
    assert {student: room.ours(student)["score"] for student in ("aaa", "dan", "eve", "fay")} \
        == dict.fromkeys(("aaa", "dan", "eve", "fay"), bob)
    assert room.ours("hal")["score"] == bob
    assert room.ours("gus")["score"] == room.ours("ivy")["score"] == room.ours("joe")["score"] == 0
    assert "BEGIN SOLUTION" not in (
        room.course / "autograded" / "ivy" / "backprop" / "backprop.ipynb").read_text()
    assert "nbgrader could not read your notebook" in room.ours("gus")["extra_data"]["note"]
    assert exported == {student: room.ours(student)["score"] for student in (
        "aaa", "alice", "bob", "cy", "dan", "eve", "fay", "gus", "hal", "ivy", "joe")}
    room.nbgrader(room.course, "generate_feedback", "backprop", "--force")
    feedback = room.course / "feedback"
    assert "nbgrader could not read your notebook" in (
        feedback / "gus" / "backprop" / "backprop.html").read_text()
    page = (feedback / "aaa" / "backprop" / "backprop.html").read_text()
    assert "my derivation" in page and "onmouseover=alert" in page  # shown, as text
    assert not re.search(r"<script>document|<img src=x|href=.javascript|<b onmouseover", page)


def test_a_notebook_nbgrader_cannot_save_gets_our_grade_cells_alone(classroom, monkeypatch):
    """Whatever else in a student's notebook stops nbgrader's SaveAutoGrades (here the task
    that _only_ours would clear), the student is graded with our grade cells alone."""
    room = classroom.copy("unsaveable")
    tampered(room, "aaa", task=True)
    monkeypatch.setattr(nbgrader_course, "_only_ours", lambda notebook, course: None)
    room.grade()
    submission = room.api().get_submission("backprop", "aaa")
    assert submission["score"] == room.ours("aaa")["score"] == room.ours("bob")["score"]
    cells = nbformat.read(room.course / "autograded" / "aaa" / "backprop" / "backprop.ipynb",
                          4).cells
    assert [cell.metadata["nbgrader"]["grade_id"] for cell in cells] == list(EXERCISES)


def test_a_second_grade_of_the_course_stops_at_once(classroom, capsys):
    with open(classroom.course / "gradebook.db", "rb") as held:  # another grade is running
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["--course", COURSE_YAML, "grade", str(classroom.course / "submitted"),
                     "--out", str(classroom.root / "elsewhere")]) == 2
    assert "another `grade` is writing there now" in capsys.readouterr().err
    assert not (classroom.root / "elsewhere" / "results").exists()


def test_a_gradebook_that_does_not_match_the_course_stops_before_any_grading(classroom):
    room = classroom.copy("mismatch")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{room.course / 'gradebook.db'}") as book:
        book.find_grade_cell("update", "backprop", "backprop").max_score = 20
        book.db.commit()
    before = {p: p.stat().st_mtime_ns for p in (room.out / "results").iterdir()}
    for folder in (room.course, room.course / "submitted" / "alice" / "backprop"):
        (folder / "timestamp.txt").touch()
    argv = ["--course", COURSE_YAML, "grade", str(room.course / "submitted"), "--out",
            str(room.out), "--force"]
    assert main(argv) == 2
    (room.course / "gradebook.db").unlink()
    assert main(argv) == 2
    assert not (room.course / "gradebook.db").exists()
    assert {p: p.stat().st_mtime_ns for p in (room.out / "results").iterdir()} == before


@pytest.mark.parametrize("files, found", [
    (("nbgrader_config.py",), True),
    (("gradebook.db",), True),
    ((), False),
])
def test_which_course_gradebook_grade_writes(tmp_path, files, found):
    (tmp_path / "submitted").mkdir()
    for name in files:
        (tmp_path / name).touch()
    expected = tmp_path / "gradebook.db" if found else None
    assert nbgrader_gradebook([tmp_path / "submitted"]) == expected


def test_outside_a_course_the_gradebook_has_one_grade_cell_per_exercise(graded_class):
    out = graded_class.out  # CLASS graded with own_gradebook=True
    from nbgrader.api import Gradebook

    saved = results(out)
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as book:
        assignment = book.find_assignment("backprop")
        assert assignment.max_score == 100
        assert sorted(c.name for c in assignment.notebooks[0].grade_cells) == sorted(EXERCISES)
        for student, result in saved.items():
            submission = book.find_submission("backprop", student)
            assert submission.score == pytest.approx(result["score"])
            assert submission.needs_manual_grade is False
            grade_cell = book.find_grade("update", "backprop", "backprop", student)
            assert grade_cell.score == result["extra_data"]["exercises"]["update"]
    assert sorted(saved) == sorted(CLASS)



def test_student_text_in_a_grade_cell_never_starts_a_line_of_ours(course):
    forged = "boom\nMean squared error and its gradient: 15/15 points\n✓ mse: forged (1/1)"
    exercise = course.exercises[0]
    lines = nbgrader_course._text(exercise, 0.0, [], forged).splitlines()
    assert lines[0].startswith(f"{exercise.title}: 0/")
    assert all(line.startswith("    ") for line in lines[1:])
