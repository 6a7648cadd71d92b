"""The student's side: what `check` loads, what it finds and what it shows."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from test_fairness import mistake_files

from autograder.cli import main
from autograder.course import load_course
from autograder.diagnosis import load_catalogue

MISTAKES = load_catalogue(load_course(ROOT / "course.yaml")).mistakes

HEAVY = ["otter.api", "nbconvert", "nbformat", "pandas", "jsonschema"]

LOAD_THEN_IMPORT_OTTER = f"""
import json, sys
from autograder.cli import main
from autograder.course import load_course
from autograder.verdicts import load_suites
suites = load_suites(load_course({str(ROOT / "course.yaml")!r}), public_only=True)
heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
import otter, otter.test_files
same = otter.test_files.ExceptionTestFile is type(suites[0].test_file)
print(json.dumps([heavy, len(suites), hasattr(otter, "Notebook"), same]))
"""


def load_then_import_otter(setup) -> subprocess.CompletedProcess:
    """(In the background, a fresh process: conftest.Background.)"""
    return subprocess.run([sys.executable, "-c", LOAD_THEN_IMPORT_OTTER], cwd=ROOT,
                          capture_output=True, text=True)


def test_loading_the_test_files_leaves_out_otters_heavy_imports(background):
    """otter's own parser reads the test files, but otter's package __init__ (otter.api,
    nbconvert, pandas) and nbformat stay unimported until someone imports otter itself."""
    done = background.result("otter imports", load_then_import_otter)
    assert done.returncode == 0, done.stderr
    heavy, count, notebook, same = json.loads(done.stdout)
    assert heavy == [] and count == 5
    assert notebook and same, "a later `import otter` must get the real package"


def failed_public_cases(result) -> list[tuple[str, str]]:
    """(exercise, case) of every public case a file graded on its public cases fails."""
    return [(ex.exercise.id, case.name) for ex in result.exercises for case in ex.cases
            if not case.passed]


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_every_catalogued_mistake_fails_a_public_case(grading_pool, mistake):
    """check finds every catalogued mistake, unless the catalogue says why it cannot
    (`public: never`, with the reason)."""
    graded = grading_pool.results("public mistakes", GRADED["public mistakes"])
    failed = failed_public_cases(graded[mistake.id])
    if mistake.hidden_only:
        assert failed == [], f"{mistake.id} is listed as hidden only, but check finds it"
    else:
        assert failed, f"{mistake.id} passes every public case"


# Bugs a beginner makes that check once missed, written the way students write them.
MISSED = {
    "mse_and_mse_grad_divide_by_rows": [
        ("mse", "return float(np.mean((y_true - y_pred) ** 2))",
         "return float(np.sum((y_true - y_pred) ** 2) / y_true.shape[0])"),
        ("mse_grad", "return 2.0 * (y_pred - y_true) / y_pred.size",
         "return 2.0 * (y_pred - y_true) / y_pred.shape[0]")],
    "backward_takes_sigmoid_grad_of_a1": [
        ("backward", 'g_z1 = g_a1 * sigmoid_grad(cache["z1"])',
         'g_z1 = g_a1 * sigmoid_grad(cache["a1"])')],
    "update_subtracts_in_place": [
        ("update", "return {key: params[key] - lr * grads[key] for key in params}",
         "for key in params:\n        params[key] -= lr * grads[key]\n    return params")],
    "update_copies_then_subtracts_in_place": [
        ("update", "return {key: params[key] - lr * grads[key] for key in params}",
         "new_params = params.copy()\n    for key in new_params:\n"
         "        new_params[key] -= lr * grads[key]\n    return new_params")],
    "train_discards_what_update_returns": [
        ("train", "params = update(params, grads, lr)", "update(params, grads, lr)")],
}


def missed_files(folder: Path) -> dict[str, Path]:
    """GRADED: name -> the reference with MISSED's changes (the test checks that each
    applies exactly once)."""
    paths = {}
    for name, changes in MISSED.items():
        source = (ROOT / "solutions" / "backprop.py").read_text()
        for _, old, new in changes:
            source = source.replace(old, new)
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(source)
    return paths


GRADED = {"public mistakes": (mistake_files, {"public_only": True}),
          "public missed": (missed_files, {"public_only": True})}
BACKGROUND = {"otter imports": load_then_import_otter}


@pytest.mark.parametrize("name", sorted(MISSED))
def test_the_bugs_check_once_missed_fail_a_public_case(course, grading_pool, name):
    source = (ROOT / "solutions" / "backprop.py").read_text()
    for _, old, new in MISSED[name]:
        assert source.count(old) == 1
        source = source.replace(old, new)
    graded = grading_pool.results("public missed", GRADED["public missed"])
    failed = failed_public_cases(graded[name])
    exercises = {function: ex.id for ex in course.exercises for function in ex.functions}
    own = {exercises[function] for function, _, _ in MISSED[name]}
    assert own <= {exercise for exercise, _ in failed}, failed


def test_check_shows_the_students_prints_and_the_likely_cause(course, tmp_path, capsys):
    source = (ROOT / "solutions" / "backprop.py").read_text()
    old = "    return {key: params[key] - lr * grads[key] for key in params}\n"
    new = ("    print('shapes:', {key: value.shape for key, value in params.items()})\n"
           "    for key in params:\n        params[key] -= lr * grads[key]\n"
           "    return params\n")
    path = tmp_path / "mine.py"
    path.write_text(source.replace(old, new))
    assert main(["--course", str(ROOT / "course.yaml"), "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "What your code printed" in out
    assert "shapes: {'W1': (1, 1)" in out
    explain = next(m.explain for m in MISTAKES if m.id == "update_modifies_inputs")
    assert f"Likely cause: {explain}" in out


READ_TARGETS = re.compile(r'the docstring of (\w+)|"([^"]+)"|(the conventions at the top)')


def _targets(read: str) -> list[tuple[str, str]]:
    return [next((kind, text) for kind, text in zip(("docstring", "lesson", "conventions"), m)
                 if text) for m in READ_TARGETS.findall(read)]


@pytest.mark.parametrize("entry", yaml.safe_load(
    (ROOT / "solutions" / "mistakes.yaml").read_text()), ids=lambda e: e["id"])
def test_every_read_again_points_at_text_the_student_has(entry):
    reference = ast.parse((ROOT / "solutions" / "backprop.py").read_text())
    docstrings = {node.name: ast.get_docstring(node) for node in reference.body
                  if isinstance(node, ast.FunctionDef)}
    lesson = (ROOT / "solutions" / "lesson.md").read_text()
    targets = _targets(entry["read"])
    assert targets, f"{entry['id']}: 'read' names no docstring, lesson text or the conventions"
    for kind, text in targets:
        if kind == "docstring":
            assert docstrings.get(text), f"{entry['id']}: {text} has no docstring"
        elif kind == "lesson":
            assert text in lesson, f"{entry['id']}: the lesson has no {text!r}"
        else:
            assert "Conventions" in ast.get_docstring(reference)
