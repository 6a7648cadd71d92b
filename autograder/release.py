"""Make what students and Gradescope receive from the one source of truth.

- the student file: solutions/backprop.py with every ``### BEGIN SOLUTION`` /
  ``### END SOLUTION`` region replaced by nbgrader's own ``ClearSolutions``;
- the public test files: the test sources with every ``### BEGIN HIDDEN TESTS``
  region removed by nbgrader's ``ClearHiddenTests``;
- autograder.zip, made by ``otter generate`` from the full tests, with the
  reference and the check helpers shipped as packages (a top-level ``.py``
  support file would break otter's ``.py`` submissions).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from autograder.course import Course, CourseError
from autograder.gradebook import write_atomic

ZIP_REQUIREMENTS = "numpy>=1.24,<3\npyyaml>=6,<7\n"


def _preprocess(text: str, preprocessor_class: type, name: str) -> str:
    """Run one nbgrader preprocessor on .py text wrapped as a one-cell notebook."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    notebook.cells.append(nbformat.v4.new_code_cell(text))
    preprocessor = preprocessor_class(enforce_metadata=False)
    try:
        notebook, _ = preprocessor.preprocess(notebook, {})
    except RuntimeError as err:
        raise CourseError(f"{name}: {err}") from None
    return notebook.cells[0].source.rstrip("\n") + "\n"


def student_file(course: Course) -> str:
    from nbgrader.preprocessors import ClearSolutions

    source = course.path("reference")
    return _preprocess(source.read_text(encoding="utf-8"), ClearSolutions, course.reference)


def public_tests(course: Course) -> dict[str, str]:
    """File name -> text of each test file with its hidden cases removed."""
    from nbgrader.preprocessors import ClearHiddenTests

    folder = course.path("tests.source")
    return {
        f"{ex.id}.py": _preprocess((folder / f"{ex.id}.py").read_text(encoding="utf-8"),
                                   ClearHiddenTests, f"{course.tests_source}/{ex.id}.py")
        for ex in course.exercises
    }


def write_student_files(course: Course, folder: Path) -> list[Path]:
    """The student's file and public tests, written into folder."""
    written = [folder / course.student_file]
    write_atomic(written[0], student_file(course))
    for name, text in public_tests(course).items():
        written.append(folder / "tests" / name)
        write_atomic(written[-1], text)
    return written


def _stage_support(course: Course, stage: Path) -> None:
    """Copy what the tests import into stage: the reference and check helpers, as packages."""
    reference = course.path("reference")
    shutil.copytree(reference.parent, stage / reference.parent.name,
                    ignore=shutil.ignore_patterns("tests", "__pycache__"))
    shutil.copytree(Path(__file__).parent, stage / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(course.source, stage / "course.yaml")
    shutil.copytree(course.path("tests.source"), stage / "tests",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (stage / "requirements.txt").write_text(ZIP_REQUIREMENTS, encoding="utf-8")


def build_autograder_zip(course: Course, zip_path: Path) -> Path:
    """autograder.zip for Gradescope or `otter run -a`, made by otter generate."""
    from otter.generate import main as otter_generate

    reference_package = course.path("reference").parent.name
    with tempfile.TemporaryDirectory() as temporary:
        stage = Path(temporary)
        _stage_support(course, stage)
        with _chdir(stage):
            otter_generate(tests_dir="tests", output_path="autograder.zip",
                           requirements="requirements.txt", no_environment=True,
                           files=[reference_package, "autograder", "course.yaml"])
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(stage / "autograder.zip", zip_path)
    return zip_path


@contextlib.contextmanager
def _chdir(path: Path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
