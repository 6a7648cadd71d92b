"""course.yaml: every instructor mistake stops the run with a line naming the key."""

from __future__ import annotations

import shutil

import pytest
import yaml
from conftest import ROOT

from autograder.course import CourseError, load_course
from autograder.verdicts import load_suites


def edited(data: dict, path: str, value) -> dict:
    """A copy of data with the key at dotted path set to value (DELETE removes it)."""
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    target = data
    for key in keys[:-1]:
        target = target[key]
    if value == "DELETE":
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


ERRORS = [
    ("exercises.2.points", "two", "exercises[2].points must be a positive number, got 'two'"),
    ("exercises.0.points", -5, "exercises[0].points must be a positive number, got -5"),
    ("tests.public", "DELETE", "missing key 'tests.public'"),
    ("limits.call_secnds", 2, "unknown key 'limits.call_secnds'; did you mean 'call_seconds'?"),
    ("seed", 1.5, "seed must be a whole number, got 1.5"),
    ("assignment", "", "assignment must be a non-empty string, got ''"),
    ("exercises", [], "exercises must be a non-empty list, got []"),
    ("exercises.1.functions", ["forward pass"], "exercises[1].functions must list Python"),
    ("exercises.1.id", "mse", "exercise id 'mse' is used twice"),
    ("tolerance", 0.01, "tolerance must be a mapping"),
    ("exercise", [], "unknown key 'exercise'; did you mean 'exercises'?"),
]


@pytest.fixture
def course_copy(tmp_path):
    """A writable copy of the course: course.yaml plus the folders it names."""
    for folder in ("solutions", "exercises", "autograder"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    data = yaml.safe_load((ROOT / "course.yaml").read_text())
    return tmp_path / "course.yaml", data


@pytest.mark.parametrize("key, value, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_course_yaml_names_the_key(course_copy, key, value, message):
    path, data = course_copy
    path.write_text(yaml.safe_dump(edited(data, key, value)))
    with pytest.raises(CourseError) as error:
        load_course(path)
    assert str(error.value).startswith("course.yaml: ")
    assert message in str(error.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "course.yaml"
    path.write_text("assignment: backprop\n  student_file: [\n")
    with pytest.raises(CourseError, match=r"course.yaml: not valid YAML at line \d"):
        load_course(path)


def test_missing_course_file_says_what_to_do(tmp_path):
    with pytest.raises(CourseError, match="not found; pass --course PATH"):
        load_course(tmp_path / "course.yaml")


def test_points_that_do_not_add_up_are_an_error(course_copy):
    path, data = course_copy
    path.write_text(yaml.safe_dump(edited(data, "exercises.3.points", 12)))
    with pytest.raises(CourseError, match="'update' is worth 12 points but the cases of "
                                          "solutions/tests/update.py add up to 10"):
        load_suites(load_course(path))


def test_missing_test_file_is_an_error(course_copy):
    path, data = course_copy
    path.write_text(yaml.safe_dump(data))
    (path.parent / "solutions" / "tests" / "train.py").unlink()
    with pytest.raises(CourseError, match="exercise 'train' has no test file"):
        load_suites(load_course(path))


def test_missing_tests_folder_is_an_error(course_copy):
    path, data = course_copy
    path.write_text(yaml.safe_dump(edited(data, "tests.source", "nowhere/tests")))
    with pytest.raises(CourseError, match="tests.source names nowhere/tests, which does not"):
        load_suites(load_course(path))


def test_limits_left_out_take_their_defaults(course_copy):
    path, data = course_copy
    del data["limits"]["memory_mb"]
    path.write_text(yaml.safe_dump(data))
    assert load_course(path).limits.memory_mb == 1024
    del data["limits"]
    path.write_text(yaml.safe_dump(data))
    assert load_course(path).limits.call_seconds == 2
