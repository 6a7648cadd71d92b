"""Finding submissions: instructor inputs never merge two people, never follow a link,
never unpack a zip bomb, and always give ids that fit in a file name."""

from __future__ import annotations

import csv
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from autograder import submissions
from autograder.errors import InputError
from autograder.jobs import grade_batch, submission_key
from autograder.submissions import ArchiveLimits, Submission, collect

REFERENCE = ROOT / "solutions" / "backprop.py"
STUB = ROOT / "exercises" / "backprop.py"
MB = 1 << 20


def write_files(folder: Path, names: list[str], source: Path = STUB) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(source, folder / name)
    return folder


def ids(found: list[Submission]) -> list[str]:
    return [s.student for s in found]


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("names, expected", [
    # two Canvas users with the same name keep their user ids; a lone name stays plain
    (["smithjane_1001_1_backprop.py", "smithjane_LATE_2002_2_backprop.py",
      "leejo_3003_3_backprop.py"], ["leejo", "smithjane_1001", "smithjane_2002"]),
    # Unicode names are kept as they are
    (["张伟.py", "王芳.py"], ["张伟", "王芳"]),
    (["张伟_1001_1_backprop.py", "王芳_2002_2_backprop.py"], ["张伟", "王芳"]),
    # punctuation and spaces are kept: these are two students
    (["o'brien.py", "o brien.py"], ["o brien", "o'brien"]),
    # only a leading dot and control characters are replaced
    ([".kim.py", "tab\there.py"], ["_kim", "tab_here"]),
])
def test_ids_keep_every_student_apart(quick_course, tmp_path, names, expected):
    folder = write_files(tmp_path / "class", names)
    assert ids(collect([folder], quick_course, tmp_path / "unpacked")) == expected


def test_the_same_canvas_user_still_gets_the_newest_file(quick_course, tmp_path):
    folder = write_files(tmp_path / "class", ["smithjane_1001_1_backprop.py",
                                              "smithjane_2002_2_backprop.py"])
    write_files(folder, ["smithjane_1001_3_backprop-1.py"], REFERENCE)
    os.utime(folder / "smithjane_1001_1_backprop.py", (1_700_000_000, 1_700_000_000))
    found = collect([folder], quick_course, tmp_path / "unpacked")
    assert [(s.student, s.path.name) for s in found] == [
        ("smithjane_1001", "smithjane_1001_3_backprop-1.py"),
        ("smithjane_2002", "smithjane_2002_2_backprop.py")]
    assert found[0].note.startswith("2 files; graded the newest")


@pytest.mark.parametrize("layout, files", [
    # two different names that end up as the same id
    ("flat", ["kim_.py", "kim\x01.py"]),
    # a Canvas student and a plain file of the same name are not known to be one person
    ("mixed", ["smithjane_1001_1_backprop.py", "smithjane.py"]),
])
def test_a_remaining_collision_is_one_clear_error(quick_course, tmp_path, layout, files):
    if layout == "flat":
        paths = [write_files(tmp_path / "class", files)]
    else:
        paths = [write_files(tmp_path / "canvas", files[:1]),
                 write_files(tmp_path / "extra", files[1:])]
    with pytest.raises(InputError) as err:
        collect(paths, quick_course, tmp_path / "unpacked")
    text = one_line(err)
    assert "both give the student id" in text and "rename" in text
    assert files[0] in text or files[0].replace("\x01", "\\x01") in text
    assert files[1].replace("\x01", "\\x01") in text


def test_a_long_id_is_shortened_deterministically(quick_course, tmp_path):
    names = ["a" * 250 + ".py", "a" * 249 + "b.py", "é" * 120 + ".py"]
    folder = write_files(tmp_path / "class", names)
    found = collect([folder], quick_course, tmp_path / "unpacked")
    again = collect([folder], quick_course, tmp_path / "unpacked")
    assert ids(found) == ids(again)
    assert len(set(ids(found))) == 3
    for student in ids(found):
        assert len(student.encode()) <= 100
        assert len(f".{student}.html.xxxxxxxx".encode()) < 255
    assert {s.student[:80] for s in found[:2]} == {"a" * 80}
    assert found[2].student.startswith("é" * 40 + "-")


def write_zeros(bundle: zipfile.ZipFile, name: str, size: int) -> None:
    """A member of size zero bytes, streamed: the test never holds it in memory."""
    with bundle.open(name, "w", force_zip64=True) as member:
        for _ in range(size // MB):
            member.write(bytes(MB))


@pytest.mark.parametrize("members, words", [
    ({"bomb.py": 300 * MB}, "compressed"),  # one member of 300 MB of zeros
    ({f"s{i}.py": MB for i in range(201)}, "more than 200 MB"),  # 201 members of 1 MB
])
def test_a_zip_bomb_is_refused_before_unpacking(quick_course, tmp_path, members, words):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, size in members.items():
            write_zeros(bundle, name, size)
    assert archive.stat().st_size < 2 * MB
    scratch = tmp_path / "unpacked"
    with pytest.raises(InputError) as err:
        collect([archive], quick_course, scratch)
    text = one_line(err)
    assert str(archive) in text and words in text
    left = sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file())
    assert left < MB


def test_bytes_read_are_counted_even_when_the_headers_pass(quick_course, tmp_path,
                                                           monkeypatch):
    archive = tmp_path / "lying.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for i in range(10):
            write_zeros(bundle, f"s{i}.py", MB)
    monkeypatch.setattr(submissions, "_check_sizes", lambda *args: None)  # headers that lie
    scratch = tmp_path / "unpacked"
    with pytest.raises(InputError, match="more than 5 MB"):
        collect([archive], quick_course, scratch, ArchiveLimits(total_bytes=5 * MB))
    assert not [p for p in scratch.rglob("*") if p.is_file()]


def test_archives_with_the_same_name_are_all_graded(quick_course, tmp_path):
    sources = {"a": STUB, "b": REFERENCE}
    for folder, source in sources.items():
        (tmp_path / folder).mkdir()
        with zipfile.ZipFile(tmp_path / folder / "submissions.zip", "w") as bundle:
            bundle.writestr(f"{folder}n.py", source.read_text())
            bundle.writestr(f"kim_77_{1 if folder == 'a' else 2}_backprop.py",
                            source.read_text())
    found = collect([tmp_path / "a" / "submissions.zip", tmp_path / "b" / "submissions.zip"],
                    quick_course, tmp_path / "unpacked")
    assert ids(found) == ["an", "bn", "kim"]
    assert [s.path.read_bytes() for s in found[:2]] == [STUB.read_bytes(),
                                                        REFERENCE.read_bytes()]
    assert len({s.path.parent for s in found}) == 3
    assert found[2].note.startswith("2 files; graded the newest")


def link_in_folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = write_files(tmp_path / "class", ["ada.py"])
    (folder / "cheat.py").symlink_to(REFERENCE)
    return folder, folder / "cheat.py"


def link_passed(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "cheat.py").symlink_to(REFERENCE)
    return tmp_path / "cheat.py", tmp_path / "cheat.py"


def link_in_nbgrader(tmp_path: Path) -> tuple[Path, Path]:
    submitted = tmp_path / "submitted"
    (submitted / "ana" / "backprop").mkdir(parents=True)
    shutil.copy(STUB, submitted / "ana" / "backprop" / "backprop.py")
    (tmp_path / "solution" / "backprop").mkdir(parents=True)
    shutil.copy(REFERENCE, tmp_path / "solution" / "backprop" / "backprop.py")
    (submitted / "ben").symlink_to(tmp_path / "solution")
    return submitted, submitted / "ben"


@pytest.mark.parametrize("make", [link_in_folder, link_passed, link_in_nbgrader])
def test_a_symlink_is_refused_never_followed(quick_course, tmp_path, make):
    path, link = make(tmp_path)
    with pytest.raises(InputError) as err:
        collect([path], quick_course, tmp_path / "unpacked")
    text = one_line(err)
    assert f"{link}: is a symbolic link" in text


def test_the_rerun_key_covers_late_name_and_note(tmp_path):
    path = write_files(tmp_path, ["kim.py"]) / "kim.py"
    renamed = write_files(tmp_path / "other", ["kim2.py"]) / "kim2.py"
    base = Submission("kim", path)
    variants = [Submission("kim", path, late=True), Submission("kim", renamed),
                Submission("kim", path, note="2 files; graded the newest, kim.py (not k.py)")]
    assert submission_key("b", base) == submission_key("b", Submission("kim", path))
    keys = {submission_key("b", s) for s in [base, *variants]}
    assert len(keys) == 4


def test_renaming_to_late_regrades_and_marks_late(quick_course, tmp_path):
    canvas, out = tmp_path / "canvas", tmp_path / "out"
    write_files(canvas, ["leejo_1001_1_backprop.py"], REFERENCE)
    grade_batch(quick_course, collect([canvas], quick_course, out / "unpacked"), out)
    os.rename(canvas / "leejo_1001_1_backprop.py", canvas / "leejo_LATE_1001_1_backprop.py")
    summary = grade_batch(quick_course, collect([canvas], quick_course, out / "unpacked"), out)
    assert summary.count("graded") == 1
    rows = list(csv.reader((out / "grades.csv").open()))
    assert [(r[0], r[-1]) for r in rows[1:]] == [("leejo", "yes")]


def test_the_same_file_name_in_two_folders_may_be_two_people(quick_course, tmp_path):
    first = write_files(tmp_path / "sec1", ["alice.py"])
    second = write_files(tmp_path / "sec2", ["alice.py"], REFERENCE)
    with pytest.raises(InputError, match="sec1/alice.py and .*sec2/alice.py both give"):
        collect([first, second], quick_course, tmp_path / "unpacked")


def test_a_stray_file_leaves_canvas_names_readable(quick_course, tmp_path):
    folder = write_files(tmp_path / "canvas", ["smithjane_LATE_1001_1_backprop.py",
                                                "backprop.py"])
    found = collect([folder], quick_course, tmp_path / "unpacked")
    assert [(s.student, s.late) for s in found] == [("backprop", False), ("smithjane", True)]


@pytest.mark.parametrize("make", [os.mkdir, os.mkfifo])
def test_a_submission_that_is_not_a_regular_file_gets_a_row_and_a_note(quick_course, tmp_path,
                                                                       make):
    """In nbgrader's layout, where students put what they like: the others are graded, and
    the student gets a row (nothing of theirs runs) with a note saying what to submit."""
    for student in ("alice", "bob"):
        (tmp_path / "submitted" / student / quick_course.assignment).mkdir(parents=True)
    make(tmp_path / "submitted" / "bob" / quick_course.assignment / quick_course.student_file)
    (tmp_path / "submitted" / "alice" / quick_course.assignment / "backprop.py").write_text("")
    alice, bob = collect([tmp_path / "submitted"], quick_course, tmp_path / "unpacked")
    assert (alice.student, alice.note) == ("alice", "")
    assert bob.student == "bob" and bob.path.read_text() == ""
    assert bob.note == ("backprop.py is not a file (a folder, FIFO or link), so nothing was "
                        "graded: submit the file itself")
