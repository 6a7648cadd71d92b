"""The student's side as a student meets it: the wheel `release` builds, installed into a
fresh venv outside this repository, and only the student files beside it. `check` runs
from the shell and from the notebook's check cells, on the stub, the reference and a
buggy file.

pip may download from PyPI the first time; its own cache (and --no-compile) keeps a
rerun under about a minute.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import ROOT, SUBMISSIONS

from autograder.release import build_student_wheel, reference_notebook, write_student_files

IN_PLACE_UPDATE = SUBMISSIONS / "buggy" / "update_modifies_params.py"

EXECUTE = """
import json, sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

notebook = nbformat.read(sys.argv[1], as_version=4)
error = ""
try:
    NotebookClient(notebook, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
except CellExecutionError as failure:
    error = str(failure)
texts = [output.get("text") or output.get("data", {}).get("text/plain", "")
         for cell in notebook.cells if cell.cell_type == "code"
         for output in cell.get("outputs", [])]
print(json.dumps({"error": error, "outputs": texts}))
"""


@dataclass(frozen=True)
class Student:
    folder: Path  # the student files, and nothing of this repository
    python: Path  # the fresh venv's python

    def run(self, *args: str) -> subprocess.CompletedProcess:
        environment = {k: v for k, v in os.environ.items()
                       if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
        return subprocess.run([str(self.python), *args], cwd=self.folder, text=True,
                              capture_output=True, env=environment, timeout=600)

    def check(self, name: str) -> subprocess.CompletedProcess:
        return self.run("-m", "autograder", "check", name)


def function_source(path: Path, name: str) -> str:
    text = path.read_text()
    node = next(n for n in ast.parse(text).body
                if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(text, node)


def install_student(setup) -> Student:
    """The wheel and the student files, installed into a fresh venv (in the background:
    conftest.Background)."""
    course = setup.course
    home = setup.tmp_path_factory.mktemp("student-home")
    assert ROOT not in home.parents
    wheel = build_student_wheel(course, home / "release")
    write_student_files(course, home / "release" / "student")
    folder = shutil.copytree(home / "release" / "student", home / "work")
    shutil.copy(ROOT / "solutions" / "backprop.py", folder / "mine.py")
    shutil.copy(IN_PLACE_UPDATE, folder / "buggy.py")
    nbformat.write(reference_notebook(course), folder / "solved.ipynb")
    buggy = reference_notebook(course)
    cell = next(c for c in buggy.cells if c.source.startswith("def update("))
    cell.source = function_source(IN_PLACE_UPDATE, "update")
    nbformat.write(buggy, folder / "buggy.ipynb")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # pip install into it (our pip, run for its python: a venv's own pip takes seconds to set up)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-compile", str(wheel), "ipykernel"], check=True, capture_output=True)
    return Student(folder, python)


CHECKED = ("backprop.py", "mine.py", "buggy.py", "solved.ipynb")  # `check` from the shell
EXECUTED = ("backprop.ipynb", "solved.ipynb", "buggy.ipynb")  # run top to bottom


@dataclass(frozen=True)
class Used:
    """What the student's install did: where the package is, each `check` of CHECKED and
    each run of the notebooks EXECUTED."""

    package: subprocess.CompletedProcess
    files: dict[str, str]  # the installed package, as installed: path -> text (.py only)
    checks: dict[str, subprocess.CompletedProcess]
    notebooks: dict[str, subprocess.CompletedProcess]

    def executed(self, notebook: str) -> dict:
        done = self.notebooks[notebook]
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


def install_and_use(setup) -> Used:
    """install_student, then what a student runs, each run in a process of its own (and
    each notebook in a kernel of its own), three at once (in the background:
    conftest.Background)."""
    student = install_student(setup)
    found = student.run("-c", "import autograder, pathlib; "
                        "print(pathlib.Path(autograder.__file__).parent)")
    package = Path(found.stdout.strip())
    files = {p.relative_to(package).as_posix(): p.read_text() if p.suffix == ".py" else ""
             for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    with ThreadPoolExecutor(3) as runs:
        checks = {name: runs.submit(student.check, name) for name in CHECKED}
        notebooks = {name: runs.submit(student.run, "-c", EXECUTE, name, str(student.folder))
                     for name in EXECUTED}
        return Used(found, files, {name: run.result() for name, run in checks.items()},
                    {name: run.result() for name, run in notebooks.items()})


BACKGROUND = {"student": install_and_use}


@pytest.fixture(scope="module")
def student(background) -> Used:
    return background.result("student", install_and_use)


def test_the_install_holds_nothing_of_the_instructor(student, course):
    package = Path(student.package.stdout.strip())
    assert ROOT not in package.parents
    files = student.files
    # the seed of the hidden tests' inputs (and of the epochs train's step case checks)
    released = yaml.safe_load((package / "student" / "course.yaml").read_text())
    assert released["seed"] != course.seed
    assert not [f for f in files if "solutions" in f or f.endswith("mistakes.yaml")]
    tests = [f for f in files if f.startswith("student/tests/") and f.count("/") == 2
             and f.endswith(".py")]
    assert tests and not [f for f in tests if "hidden=True" in files[f]]


def test_check_from_the_shell(student):
    stub = student.checks["backprop.py"]
    assert stub.returncode == 1, stub.stderr
    assert "mse is not written yet" in stub.stdout
    assert "0 of 5 exercises pass" in stub.stdout
    solved = student.checks["mine.py"]
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert "5 of 5 exercises pass" in solved.stdout
    buggy = student.checks["buggy.py"]
    assert buggy.returncode == 1, buggy.stderr
    assert "4 of 5 exercises pass" in buggy.stdout
    assert "✘ The gradient-descent update" in buggy.stdout
    assert "Likely cause: Your update changes the params it was given" in buggy.stdout
    notebook = student.checks["solved.ipynb"]
    assert notebook.returncode == 0, notebook.stdout + notebook.stderr


def test_check_from_the_notebook(student):
    stub = student.executed("backprop.ipynb")
    assert "NotImplementedError" in stub["error"]
    assert 'check("mse", globals())' in stub["error"]
    solved = student.executed("solved.ipynb")
    assert solved["error"] == ""
    checks = [text for text in solved["outputs"] if "public tests pass" in text]
    assert len(checks) == 5 and not [text for text in checks if "❌" in text]
    buggy = student.executed("buggy.ipynb")
    assert buggy["error"] == ""
    failed = [text for text in buggy["outputs"] if "❌" in text]
    assert len(failed) == 1 and "gradient-descent update" in failed[0]
    assert "Likely cause: Your update changes the params it was given" in failed[0]
