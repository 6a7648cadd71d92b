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
- autograder.zip: for Gradescope, setup.sh (pinned requirements, pip) and
  run_autograder (our grader, confined; autograder/gradescope.py); laid out as
  otter's (the full tests in tests/, the reference and the check helpers as
  packages in files/: a top-level ``.py`` support file would break otter's ``.py``
  submissions), so ``otter run -a autograder.zip`` grades with it too;
- the student's install, a wheel of this package that also carries the public
  side of the course (``autograder/student/``: a course.yaml and the public
  tests), so ``check`` works wherever the package is installed: no clone, no
  instructor files. autograder.zip's copy of the package carries the same.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from autograder import gradescope, wire
from autograder.course import CAUSES, PACKAGE, Course
from autograder.diagnosis import load_catalogue, public_causes
from autograder.errors import CourseError, SetupError
from autograder.files import write_atomic
from autograder.verdicts import load_suites

DISTRIBUTION = "backprop-autograder"
METADATA_FIELDS = ["Name", "Version", "Summary", "Requires-Python", "Requires-Dist",
                   "Provides-Extra"]
STUDENT_COURSE_HEAD = ("# Made by `python -m autograder release` from the instructor's "
                       "course.yaml:\n# the settings `check` needs; the public tests are in "
                       "tests/. The seed of the hidden\n# tests is not released: 0 stands "
                       "for it, and no public test uses it.\n")
ZIP_COURSE_HEAD = ("# Made by `python -m autograder release` from the instructor's course.yaml,"
                   "\n# with its paths as they are inside autograder.zip.\n")


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


_CHECK_CALL = re.compile(r'^check\("(\w+)", globals\(\)\)$', re.M)


def nbgrader_source(course: Course) -> str:
    """The reference notebook with nbgrader's cell metadata, for `nbgrader
    generate_assignment`: function cells are solution cells, every other cell is locked,
    and each exercise's check cell is its grade cell (grade_id: the exercise's id, worth
    its points), where `grade` writes our results."""
    import nbformat

    points = {exercise.id: exercise.points for exercise in course.exercises}
    notebook = reference_notebook(course)
    for number, cell in enumerate(notebook.cells, 1):
        solution = "### BEGIN SOLUTION" in cell.source
        check = _CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
        cell.metadata["nbgrader"] = {
            "grade": False, "grade_id": f"cell-{number:02d}", "locked": not solution,
            "schema_version": 3, "solution": solution, "task": False}
        if check and check[1] in points:
            cell.metadata["nbgrader"].update(grade=True, grade_id=check[1],
                                             points=points[check[1]])
    return nbformat.writes(notebook) + "\n"


def nbgrader_config(course_dir: Path) -> str:
    """The course's nbgrader settings: its id (the folder's name), which the exchange
    commands need."""
    return (f"# nbgrader's settings for this course (written by `python -m autograder release"
            f" --nbgrader`)\nc = get_config()\n"
            f"c.CourseDirectory.course_id = {course_dir.resolve().name!r}\n")


def write_nbgrader_source(course: Course, course_dir: Path) -> Path:
    """COURSE/source/<assignment>/<notebook>, and COURSE/nbgrader_config.py unless the
    course has its own; with the modes of any file the instructor makes (umask applied)."""
    path = course_dir / "source" / course.assignment / f"{course.module}.ipynb"
    written = [path]
    write_atomic(path, nbgrader_source(course))
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        write_atomic(config, nbgrader_config(course_dir))
        written.append(config)
    umask = os.umask(0)
    os.umask(umask)
    for made in written:
        made.chmod(0o666 & ~umask)
    return path


def write_student_files(course: Course, folder: Path) -> list[Path]:
    """The student's file and notebook and the public tests, written into folder."""
    notebook = folder / f"{course.module}.ipynb"
    written = [folder / course.student_file, notebook]
    write_atomic(written[0], student_file(course))
    write_atomic(notebook, student_notebook(course))
    for name, text in public_tests(course).items():
        written.append(folder / "tests" / name)
        write_atomic(written[-1], text)
    return written


def _course_yaml(course: Course, head: str, changes: dict[str, Any]) -> str:
    """The instructor's course.yaml with some keys changed, under a comment saying why."""
    import yaml

    data = yaml.safe_load(course.source.read_text(encoding="utf-8"))
    data.update(changes)
    return head + yaml.safe_dump(data, sort_keys=False)


def student_course(course: Course) -> dict[str, str]:
    """The public side of the course, by path inside the package: a course.yaml whose tests
    are the public tests beside it (and whose seed is not the course's), and those tests."""
    public = {"tests": {"source": "tests", "public": "tests"}, "seed": 0}
    files = {"student/course.yaml": _course_yaml(course, STUDENT_COURSE_HEAD, public)}
    files.update({f"student/tests/{name}": text for name, text in public_tests(course).items()})
    files[f"student/{CAUSES}"] = json.dumps(_causes(course, files), indent=1, sort_keys=True)
    return files


def _causes(course: Course, files: dict[str, str]) -> dict[str, dict[str, str]]:
    """The likely causes `check` shows students: each catalogued mistake run on the
    public tests about to be released."""
    with tempfile.TemporaryDirectory() as temporary:
        for key, text in files.items():
            (Path(temporary) / key).parent.mkdir(parents=True, exist_ok=True)
            (Path(temporary) / key).write_text(text, encoding="utf-8")
        public = dataclasses.replace(course, root=Path(temporary) / "student",
                                     tests_public="tests")
        suites = load_suites(public, public_only=True)
    return public_causes(load_catalogue(course), suites)


def _wheel_metadata(version: str) -> str:
    try:
        metadata = importlib.metadata.metadata(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise SetupError(f"{DISTRIBUTION} is not installed; run `pip install -e .` "
                         "first (the wheel takes its version and requirements from it)") from None
    lines = ["Metadata-Version: 2.1"]
    lines += [f"{field}: {value}" for field in METADATA_FIELDS
              for value in metadata.get_all(field) or []]
    return "\n".join(lines) + "\n"


def package_files(course: Course) -> dict[str, bytes]:
    """This package's modules and the public side of the course, by path in a wheel or zip."""
    files = {f"autograder/{path.name}": path.read_bytes()
             for path in sorted(PACKAGE.glob("*.py"))}
    files.update({f"autograder/{key}": text.encode()
                  for key, text in student_course(course).items()})
    return files


def _write_zip(path: Path, files: dict[str, bytes], executable: frozenset[str]) -> Path:
    """A zip of files (path inside -> bytes), byte for byte the same for the same files:
    fixed dates, and the modes of ordinary files (0755 for the executable ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, data in files.items():
            entry = zipfile.ZipInfo(key, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = (0o100755 if key in executable else 0o100644) << 16
            archive.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return path


def build_student_wheel(course: Course, folder: Path) -> Path:
    """The student's install: a wheel of this package plus the public side of the course.
    Written directly (a wheel is a zip with a .dist-info folder), byte for byte the same
    for the same sources."""
    version = importlib.metadata.version(DISTRIBUTION)
    name = DISTRIBUTION.replace("-", "_")
    info = f"{name}-{version}.dist-info"
    files = package_files(course)
    files[f"{info}/METADATA"] = _wheel_metadata(version).encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: autograder.release\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/top_level.txt"] = b"autograder\n"
    record = [f"{key},sha256={_digest(data)},{len(data)}" for key, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    return _write_zip(folder / f"{name}-{version}-py3-none-any.whl", files, frozenset())


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip_course(course: Course) -> str:
    """course.yaml as the grader reads it in autograder.zip's files/ folder (Gradescope):
    the full tests in ../tests, the public ones inside the package, and the reference, its
    lesson and its catalogue of mistakes in the reference's folder beside it."""
    folder = course.path("reference").parent
    changes: dict[str, Any] = {"tests": {"source": f"../{gradescope.TESTS}",
                                         "public": "autograder/student/tests"}}
    for key in ("reference", "lesson", "mistakes"):
        path = course.path(key)
        if folder not in path.parents:
            raise CourseError(f"{course.source.name}: {key} must be in the reference's folder "
                              f"{folder.name}/, which autograder.zip carries")
        changes[key] = f"{folder.name}/{path.relative_to(folder).as_posix()}"
    return _course_yaml(course, ZIP_COURSE_HEAD, changes)


def _folder_files(folder: Path, prefix: str, skip: Path | None = None) -> dict[str, bytes]:
    """Each file below folder by prefix/its path there, without __pycache__ or skip."""
    return {f"{prefix}/{path.relative_to(folder).as_posix()}": path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
            and (skip is None or skip not in path.parents)}


def autograder_files(course: Course) -> dict[str, bytes]:
    """autograder.zip's files by path: Gradescope's setup.sh and run_autograder with the
    pinned requirements; and in otter's layout, which `otter run -a` reads, the full tests
    in tests/ and in files/ the reference's folder (without the tests), this package with
    the public side of the course, and the course as the grader reads it there."""
    reference = course.path("reference").parent
    files = {name: text.encode() for name, text in gradescope.SCRIPTS.items()}
    files.update(_folder_files(course.path("tests.source"), gradescope.TESTS))
    files.update(_folder_files(reference, f"{gradescope.FILES}/{reference.name}",
                               skip=course.path("tests.source")))
    files.update({f"{gradescope.FILES}/{key}": data
                  for key, data in package_files(course).items()})
    files[gradescope.COURSE] = _zip_course(course).encode()
    return files


def build_autograder_zip(course: Course, zip_path: Path) -> Path:
    """autograder.zip, for Gradescope (our grader, confined) and for `otter run -a`."""
    return _write_zip(zip_path, autograder_files(course), gradescope.EXECUTABLE)
