"""The one vocabulary of how a run ends: statuses, the faults that lead to them, and the
sentences students and instructors read."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from autograder.feedback import render_feedback
from autograder.statuses import Fault, Status, status_of


def test_every_fault_child_py_sends_is_one_of_ours():
    """child.py is loaded by path and cannot import statuses: its kinds are plain strings."""
    source = (ROOT / "autograder" / "child.py").read_text()
    sent = set(re.findall(r'kind, text = "(\w+)"', source))
    assert sent and sent <= {fault.value for fault in Fault}


@pytest.mark.parametrize("forged", ["ok", "nonsense", ["error"], None, 5])
def test_a_fault_name_we_do_not_know_is_an_error(forged):
    assert Fault.named(forged) is Fault.ERROR


def test_every_status_has_a_sentence_for_each_reader_and_its_own_severity():
    assert all(status.student.endswith(".") and status.instructor.endswith(".")
               for status in Status)
    assert len({status.severity for status in Status}) == len(Status)


@pytest.mark.parametrize("loaded, faults, passed, expected", [
    (Status.OK, [], 5, Status.OK),
    (Status.OK, [Fault.TODO, Fault.TODO], 0, Status.NOT_ATTEMPTED),
    (Status.OK, [Fault.TODO, None], 0, Status.OK),
    (Status.OK, [Fault.TODO], 1, Status.OK),
    (Status.OK, [Fault.MISSING, Fault.EXIT, Fault.ERROR], 2, Status.EXIT),
    (Status.OK, [Fault.CRASHED, Fault.TIMEOUT, Fault.MEMORY], 0, Status.TIMEOUT),
    (Status.SYNTAX_ERROR, [Fault.SYNTAX] * 3, 0, Status.SYNTAX_ERROR),
])
def test_the_most_severe_fault_names_the_run(loaded, faults, passed, expected):
    assert status_of(loaded, faults, passed) is expected


def test_a_file_that_does_not_load_is_told_so_once(grade, course, tmp_path):
    path = tmp_path / "jonas.py"
    path.write_text("def mse(y_pred, y)\n    return 0\n")
    result = grade(path)
    page = render_feedback(result, course.assignment)
    assert result.status is Status.SYNTAX_ERROR
    assert page.count("syntax error") == 1  # the status's own sentence
    assert page.count("SyntaxError: expected ':' (line 1 of your file)") == 1
