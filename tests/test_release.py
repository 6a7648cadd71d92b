"""release: the student files come from the reference and never carry answers."""

from __future__ import annotations

import re
import zipfile

import pytest
from conftest import ROOT

from autograder.release import build_autograder_zip, write_student_files

EXERCISES = ROOT / "exercises"


@pytest.fixture(scope="module")
def released(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("release")
    write_student_files(course, folder / "student")
    build_autograder_zip(course, folder / "autograder.zip")
    return folder


def files_below(folder):
    return {p.relative_to(folder).as_posix(): p.read_text()
            for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def test_exercises_folder_is_exactly_what_release_makes(released):
    assert files_below(EXERCISES) == files_below(released / "student"), (
        "exercises/ has drifted from the reference: run `make exercises`")


def test_release_is_reproducible(course, released, tmp_path):
    write_student_files(course, tmp_path)
    assert files_below(tmp_path) == files_below(released / "student")


def solution_lines():
    text = (ROOT / "solutions" / "backprop.py").read_text()
    regions = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", text, re.S)
    return {line.strip() for region in regions for line in region.splitlines()
            if len(line.strip()) > 12}


def test_no_solution_line_reaches_a_student_file():
    lines = solution_lines()
    assert len(lines) > 20
    for path, text in files_below(EXERCISES).items():
        leaked = [line for line in text.splitlines() if line.strip() in lines]
        assert leaked == [], f"{path} contains solution code"


@pytest.mark.parametrize("marker", ["hidden=True", "BEGIN HIDDEN", "END HIDDEN", "solutions",
                                    "BEGIN SOLUTION", "import backprop", "ref."])
def test_no_hidden_case_or_reference_reaches_a_student_file(marker):
    for path, text in files_below(EXERCISES).items():
        assert marker not in text, f"{path} contains {marker!r}"


def test_public_tests_keep_every_public_case(course):
    for ex in course.exercises:
        source = (ROOT / "solutions" / "tests" / f"{ex.id}.py").read_text()
        public = (EXERCISES / "tests" / f"{ex.id}.py").read_text()
        assert public.count("@test_case(") == source.count("@test_case(") - source.count(
            "hidden=True")


def test_autograder_zip_holds_the_tests_and_the_reference_as_a_package(released):
    with zipfile.ZipFile(released / "autograder.zip") as archive:
        names = set(archive.namelist())
    assert {"run_autograder", "setup.sh", "requirements.txt"} <= names
    assert {f"tests/{i}.py" for i in ["mse", "forward", "backprop", "update", "train"]} <= names
    assert {"files/solutions/backprop.py", "files/solutions/__init__.py",
            "files/autograder/checks.py", "files/course.yaml"} <= names
    top_level_py = [n for n in names if re.fullmatch(r"files/[^/]+\.py", n)]
    assert top_level_py == []
