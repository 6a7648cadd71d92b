"""Make what students and Gradescope receive from the one source of truth.

- the student file: solutions/backprop.py with every ``### BEGIN SOLUTION`` /
  ``### END SOLUTION`` region replaced by nbgrader's own ``ClearSolutions``;
- the student notebook: the same functions, one per cell, with the lesson
  (solutions/lesson.md) between them, a check cell after each exercise, and a
  last section that trains the network and plots it; cleared the same way;
- for an nbgrader course, the notebook with its solutions and nbgrader's cell
  metadata, ready for ``nbgrader generate_assignment``;
- the public test files: the test sources with every ``### BEGIN HIDDEN TESTS``
  region removed by nbgrader's ``ClearHiddenTests``;
- autograder.zip, made by ``otter generate`` from the full tests, with the
  reference and the check helpers shipped as packages (a top-level ``.py``
  support file would break otter's ``.py`` submissions).
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from autograder import wire
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


def _sections(lesson: str) -> tuple[str, dict[str, str]]:
    """The lesson's introduction, and its sections by id (headings like `## [mse] ...`)."""
    parts = re.split(r"^## \[(\w+)\] ", lesson, flags=re.M)
    sections = {key: f"## {text}" for key, text in zip(parts[1::2], parts[2::2])}
    return parts[0], sections


def _markdown_and_code(text: str) -> list:
    """Markdown cells, with each ```python block of the text as a code cell of its own."""
    from nbformat.v4 import new_code_cell, new_markdown_cell

    pieces = re.split(r"^```python\n(.*?)^```\n?", text, flags=re.M | re.S)
    cells = []
    for i, piece in enumerate(pieces):
        if piece.strip():
            cells.append(new_code_cell(piece.strip()) if i % 2 else
                         new_markdown_cell(piece.strip()))
    return cells


def _functions(source: str) -> dict[str, str]:
    """The source of each top-level function of the reference, by name, with the comments
    that follow it (such as ### END SOLUTION) up to the next statement."""
    lines = source.splitlines()
    body = ast.parse(source).body
    ends = [node.lineno - 1 for node in body[1:]] + [len(lines)]
    return {node.name: "\n".join(lines[node.lineno - 1:end]).rstrip()
            for node, end in zip(body, ends) if isinstance(node, ast.FunctionDef)}


def reference_notebook(course: Course) -> Any:
    """The notebook with the reference inside its solution markers, lesson text around."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    intro, sections = _sections(course.path("lesson").read_text(encoding="utf-8"))
    functions = _functions(course.path("reference").read_text(encoding="utf-8"))
    cells = [*_markdown_and_code(intro), new_code_cell("import numpy as np"),
             new_code_cell(f"{wire.NOT_RUN}\nfrom autograder.notebook import check")]
    for exercise in course.exercises:
        cells += _markdown_and_code(sections.get(exercise.id, f"## {exercise.title}"))
        cells += [new_code_cell(functions[name]) for name in exercise.functions]
        cells.append(new_code_cell(f'{wire.NOT_RUN}\ncheck("{exercise.id}", globals())'))
    cells += [cell for key in sections if key not in {e.id for e in course.exercises}
              for cell in _markdown_and_code(sections[key])]
    for number, cell in enumerate(cells, 1):
        cell.id = f"cell-{number:02d}"  # fixed ids: a release is reproducible
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.validate(notebook)
    return notebook


def student_notebook(course: Course) -> str:
    """The reference notebook with every solution region cleared by nbgrader."""
    import nbformat
    from nbgrader.preprocessors import ClearSolutions

    notebook, _ = ClearSolutions(enforce_metadata=False).preprocess(
        reference_notebook(course), {})
    return nbformat.writes(notebook) + "\n"


def nbgrader_source(course: Course) -> str:
    """The reference notebook with nbgrader's cell metadata: function cells are solution
    cells, every other cell is locked; for `nbgrader generate_assignment`."""
    import nbformat

    notebook = reference_notebook(course)
    for number, cell in enumerate(notebook.cells, 1):
        solution = "### BEGIN SOLUTION" in cell.source
        cell.metadata["nbgrader"] = {
            "grade": False, "grade_id": f"cell-{number:02d}", "locked": not solution,
            "schema_version": 3, "solution": solution, "task": False}
    return nbformat.writes(notebook) + "\n"


def write_nbgrader_source(course: Course, course_dir: Path) -> Path:
    path = course_dir / "source" / course.assignment / f"{Path(course.student_file).stem}.ipynb"
    write_atomic(path, nbgrader_source(course))
    return path


def write_student_files(course: Course, folder: Path) -> list[Path]:
    """The student's file and notebook and the public tests, written into folder."""
    notebook = folder / f"{Path(course.student_file).stem}.ipynb"
    written = [folder / course.student_file, notebook]
    write_atomic(written[0], student_file(course))
    write_atomic(notebook, student_notebook(course))
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
