"""autograder.zip as Gradescope runs it: unpacked into a root laid out like Gradescope's
/autograder (source/, submission/, results/), setup.sh run once with a fresh venv's
python3 first on the PATH (the image's python3: image_python()), then, for each
submission, a fresh copy of that root and run_autograder, whose results.json is checked
against Gradescope's format and our own grader's scores.

pip may download from PyPI the first time; its own cache keeps a rerun under a minute.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import nbformat
import pytest
import yaml
from conftest import GRADED_CORPUS_PY, ROOT, SUBMISSIONS

from autograder import wire
from autograder.course import VISIBILITIES, CourseError, Gradescope, load_course
from autograder.gradescope import (
    Layout,
    Unusable,
    choose,
    close_shared,
    for_gradescope,
    shared_folders,
)
from autograder.release import build_autograder_zip, reference_notebook
from autograder.results import from_json

REFERENCE = ROOT / "solutions" / "backprop.py"
BUGGY = SUBMISSIONS / "buggy" / "dense_no_bias.py"
EXPECTED = json.loads((SUBMISSIONS / "buggy" / "expected.json").read_text())

VISIBILITY = {"enum": list(VISIBILITIES)}
TEST = {
    "type": "object",
    "required": ["name", "score", "max_score", "visibility", "output"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "score": {"type": "number", "minimum": 0},
                   "max_score": {"type": "number", "minimum": 0}, "visibility": VISIBILITY,
                   "output": {"type": "string"}, "status": {"enum": ["passed", "failed"]},
                   "number": {"type": "string"}, "tags": {"type": "array"},
                   "extra_data": {"type": "object"}},
}
RESULTS = {  # Gradescope's results.json: every top-level key its specification lists
    "type": "object",
    "required": ["score", "output", "tests", "stdout_visibility"],
    "additionalProperties": False,
    "properties": {"score": {"type": "number", "minimum": 0},
                   "execution_time": {"type": "number"}, "output": {"type": "string"},
                   "output_format": {"type": "string"}, "test_output_format": {"type": "string"},
                   "test_name_format": {"type": "string"}, "visibility": VISIBILITY,
                   "stdout_visibility": {"const": "hidden"}, "extra_data": {"type": "object"},
                   "tests": {"type": "array", "items": TEST}, "leaderboard": {"type": "array"}},
}

ENDLESS = REFERENCE.read_text() + "\n\ndef sigmoid(z):\n    while True:\n        pass\n"
HOSTILE = '''"""Every way to a score but the work; any one that succeeded would score points."""
import os
import sys

ROOT = "{root}"
try:  # read the reference and run it as this file
    exec(open(ROOT + "/source/files/solutions/backprop.py").read())
except OSError:
    pass
try:  # import it from the source folder
    sys.path.insert(0, ROOT + "/source/files")
    from solutions.backprop import *
except ImportError:
    pass
try:  # write the score Gradescope reads
    with open(ROOT + "/results/results.json", "w") as forged:
        forged.write('{"score": 100.0, "tests": [], "forged": true}')
except OSError:
    pass
try:  # or write it later, after the grader is done
    if os.fork() == 0:
        import time
        time.sleep(3)
        with open(ROOT + "/results/results.json", "w") as forged:
            forged.write('{"score": 100.0, "tests": [], "forged": true}')
        os._exit(0)
except OSError:
    pass
'''


def notebook_text(course) -> str:
    """The student notebook, solved, with one more cell not run when graded: it would end
    the process."""
    notebook = reference_notebook(course)
    notebook.cells.insert(1, nbformat.v4.new_code_cell(f"{wire.NOT_RUN}\nimport os\nos._exit(3)"))
    return nbformat.writes(notebook)


@dataclass(frozen=True)
class Graded:
    root: Path
    results: dict
    seconds: float
    finished: float  # time.monotonic() when run_autograder ended
    source_mode: int  # the mode of source/ once run_autograder has run
    shared_mode: int  # and of the folder that stands for the container's /tmp


@dataclass(frozen=True)
class Image:
    """Gradescope's image: the unpacked zip once setup.sh has run, and the environment that
    puts its python3 first."""

    source: Path
    env: dict[str, str]

    def run(self, root: Path, files: dict[str, str]) -> Graded:
        """run_autograder, as Gradescope runs it, on a fresh root holding these files."""
        shutil.copytree(self.source, root / "source")
        for name, content in files.items():
            (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "submission" / name).write_text(content.replace("{root}", str(root)))
        (root / "results").mkdir()
        (root / "shared").mkdir(mode=0o1777)  # stands for the container's /tmp
        (root / "shared").chmod(0o1777)
        shutil.copy2(self.source / "run_autograder", root / "run_autograder")
        start = time.monotonic()
        done = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True,
                              text=True, env={**self.env, "AUTOGRADER_ROOT": str(root),
                                              "AUTOGRADER_SHARED": str(root / "shared")},
                              timeout=300)
        finished = time.monotonic()
        assert done.returncode == 0, done.stdout + done.stderr
        results = json.loads((root / "results" / "results.json").read_text())
        return Graded(root, results, finished - start, finished,
                      stat.S_IMODE((root / "source").stat().st_mode),
                      stat.S_IMODE((root / "shared").stat().st_mode))


def unpack(zip_path: Path, folder: Path) -> None:
    """Unpack as Gradescope does, with each file's mode from the zip."""
    with zipfile.ZipFile(zip_path) as archive:
        for entry in archive.infolist():
            Path(archive.extract(entry, folder)).chmod(entry.external_attr >> 16 & 0o777)


def image_python() -> str:
    """Python 3.10, the python3 of the base image the README names (Ubuntu 22.04), where
    this machine has one that runs (on the PATH, or installed by pyenv); else this one."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which("python3.10"), *map(str, pyenv.glob("versions/3.10*/bin/python3"))]
    runs = [path for path in candidates if path and subprocess.run(
        [path, "-c", "import venv"], capture_output=True).returncode == 0]
    return runs[0] if runs else sys.executable


def build_image(setup) -> tuple[Path, Image]:
    """autograder.zip, and the image setup.sh makes of it (in the background:
    conftest.Background)."""
    zip_path = build_autograder_zip(setup.course, setup.tmp_path_factory.mktemp("release") /
                                    "autograder.zip")
    home = setup.tmp_path_factory.mktemp("image")
    unpack(zip_path, home / "source")
    venv = home / "venv"
    subprocess.run([image_python(), "-m", "venv", str(venv)], check=True)
    env = {key: value for key, value in os.environ.items()
           if key not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    done = subprocess.run([str(home / "source" / "setup.sh")], cwd=home, capture_output=True,
                          text=True, env={**env, "AUTOGRADER_ROOT": str(home)}, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return zip_path, Image(home / "source", env)


BACKGROUND = {"gradescope": build_image}
GRADED = GRADED_CORPUS_PY


@pytest.fixture(scope="module")
def zip_path(background) -> Path:
    return background.result("gradescope", build_image)[0]


@pytest.fixture(scope="module")
def image(background) -> Image:
    return background.result("gradescope", build_image)[1]


@pytest.fixture(scope="module")
def graded(course, image, tmp_path_factory) -> dict[str, Graded]:
    """Each submission graded in a root of its own, two at a time."""
    submissions = {
        "reference": {"backprop.py": REFERENCE.read_text()},
        "buggy": {"backprop.py": BUGGY.read_text()},
        "imports_the_reference": {"backprop.py": "from solutions.backprop import *\n"},
        "endless_loop": {"backprop.py": ENDLESS},
        "notebook": {"backprop.ipynb": notebook_text(course)},
        "hostile": {"backprop.py": HOSTILE},
        "nothing_to_grade": {"notes.txt": "my answers are in my head\n"},
    }
    roots = {name: tmp_path_factory.mktemp(name) for name in submissions}
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(lambda name: image.run(roots[name], submissions[name]), submissions)
        return dict(zip(submissions, done))


def test_the_zip_holds_what_gradescope_and_otter_read(course, zip_path):
    with zipfile.ZipFile(zip_path) as archive:
        modes = {entry.filename: entry.external_attr >> 16 & 0o777
                 for entry in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert {mode for name, mode in modes.items()
            if name not in {"setup.sh", "run_autograder"}} == {0o644}
    assert {f"tests/{ex.id}.py" for ex in course.exercises} <= set(modes)
    assert {"files/solutions/backprop.py", "files/course.yaml"} <= set(modes)
    assert not re.search(r"conda|mamba|wget|curl|playwright", setup)


def test_requirements_pin_what_the_grader_is_tested_with(zip_path):
    """Exact versions only; those for this Python are the ones installed here."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(zip_path) as archive:
        lines = archive.read("requirements.txt").decode().splitlines()
    pins = [Requirement(line) for line in lines if line.strip()]
    assert all(len(pin.specifier) == 1 and next(iter(pin.specifier)).operator == "=="
               for pin in pins)
    here = {pin.name: next(iter(pin.specifier)).version for pin in pins
            if pin.marker is None or pin.marker.evaluate()}
    assert here == {name: importlib.metadata.version(name) for name in here}


def test_setup_installs_exactly_the_pins_for_the_images_python(zip_path, image):
    from packaging.requirements import Requirement

    with zipfile.ZipFile(zip_path) as archive:
        lines = archive.read("requirements.txt").decode().splitlines()
    found = subprocess.run(
        ["python3", "-c", "import importlib.metadata as m, json, sys; print(json.dumps("
         "[f'{sys.version_info[0]}.{sys.version_info[1]}', {d.metadata['Name']: d.version "
         "for d in m.distributions()}]))"],
        env=image.env, capture_output=True, text=True, check=True)
    version, installed = json.loads(found.stdout)
    pins = [Requirement(line) for line in lines if line.strip()]
    wanted = {pin.name: next(iter(pin.specifier)).version for pin in pins
              if pin.marker is None or pin.marker.evaluate({"python_version": version})}
    assert {name: installed.get(name) for name in wanted} == wanted


def check_format(graded: Graded) -> dict:
    jsonschema.validate(graded.results, RESULTS)
    assert graded.source_mode == 0o700
    assert graded.shared_mode == 0o1755  # student code may write only in its scratch folder
    return graded.results


def test_the_reference_scores_full_marks(course, graded):
    results = check_format(graded["reference"])
    assert results["score"] == course.max_score == 100
    assert all(test["score"] == test["max_score"] for test in results["tests"])
    assert results["extra_data"]["status"] == "ok"
    assert isinstance(results["extra_data"]["unprotected"], list)


def test_a_buggy_file_scores_what_our_grader_gives_it(course, graded, graded_corpus):
    results = check_format(graded["buggy"])
    ours = graded_corpus[BUGGY]
    assert results["score"] == ours.score < course.max_score
    exercises = results["extra_data"]["exercises"]
    assert exercises == {ex.exercise.id: ex.score for ex in ours.exercises}
    points = {ex.id: ex.points for ex in course.exercises}
    expected = EXPECTED[BUGGY.name]
    assert all(exercises[key] == points[key] for key in expected["full"])
    assert all(0 < exercises[key] < points[key] for key in expected["partial"])
    assert all(exercises[key] == 0 for key in expected["zero"])
    failed = [test for test in results["tests"] if test["score"] < test["max_score"]]
    assert failed and all(test["output"] and test["output"] != "passed" for test in failed)
    assert {test["visibility"] for test in results["tests"]} == {"visible", "after_published"}


def test_the_reference_cannot_be_imported(graded):
    results = check_format(graded["imports_the_reference"])
    assert results["score"] == 0
    assert results["extra_data"]["status"] == "import_error"


def test_an_endless_loop_times_out_within_the_limits(course, graded):
    endless = graded["endless_loop"]
    results = check_format(endless)
    assert results["extra_data"]["status"] == "timeout"
    assert 0 < results["score"] < course.max_score
    assert endless.seconds < course.limits.submission_seconds


def test_a_notebook_is_graded_without_its_not_run_cells(course, graded):
    results = check_format(graded["notebook"])
    assert results["score"] == course.max_score
    assert results["extra_data"]["status"] == "ok"


def test_student_code_reaches_neither_the_source_nor_the_results(graded):
    hostile = graded["hostile"]
    results = check_format(hostile)
    assert results["score"] == 0
    assert results["extra_data"]["status"] == "missing_function"
    time.sleep(max(0.0, hostile.finished + 4 - time.monotonic()))  # a late forger's time
    assert json.loads((hostile.root / "results" / "results.json").read_text()) == results


def test_a_submission_without_the_file_gets_zero_and_what_to_upload(graded):
    results = check_format(graded["nothing_to_grade"])
    assert results["score"] == 0
    assert "upload only backprop.py (or backprop.ipynb)" in results["output"]


def test_a_course_may_choose_how_hidden_cases_show(tmp_path):
    data = yaml.safe_load((ROOT / "course.yaml").read_text())
    data["gradescope"] = {"hidden_visibility": "sometimes"}
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CourseError) as error:
        load_course(path)
    assert str(error.value) == (
        "course.yaml: gradescope.hidden_visibility must be one of hidden, after_due_date, "
        "after_published, visible, got 'sometimes'")
    del data["gradescope"]
    path.write_text(yaml.safe_dump(data))
    assert load_course(path).gradescope == Gradescope("after_published")


def test_hidden_cases_show_as_the_course_chooses(graded):
    saved = graded["buggy"].results
    results = for_gradescope(from_json(saved), Gradescope("hidden"), ["seccomp filter"])
    assert [test["visibility"] for test in results["tests"]] == [
        "visible" if test["visibility"] == "visible" else "hidden" for test in saved["tests"]]
    assert results["extra_data"]["unprotected"] == ["seccomp filter"]
    note = "2 files; graded the newest, backprop.ipynb (not backprop.py)"
    noted = for_gradescope(dataclasses.replace(from_json(saved), note=note),
                           Gradescope("hidden"), [])
    assert noted["output"] == f"{note}. {saved['output']}"


def make(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x = 1\n")
    return folder


def test_the_file_to_grade_is_the_named_one_or_the_only_one(course, tmp_path):
    named = make(tmp_path / "a", "backprop.py", "backprop.ipynb", "helper.py",
                 ".ipynb_checkpoints/backprop-checkpoint.ipynb")
    assert choose(named, course) == [named / "backprop.ipynb", named / "backprop.py"]
    only = make(tmp_path / "b", "work/mine.py", "__MACOSX/work/._mine.py", "README.md")
    assert choose(only, course) == [only / "work" / "mine.py"]
    (only / "work" / "backprop.py").symlink_to(REFERENCE)
    (only / "work" / "backprop.ipynb").hardlink_to(only / "README.md")
    assert choose(only, course) == [only / "work" / "mine.py"]
    for folder in (make(tmp_path / "c", "one.py", "two.py"),
                   make(tmp_path / "d", "backprop.py", "old/backprop.py"),
                   make(tmp_path / "e", "notes.txt")):
        with pytest.raises(Unusable, match=r"upload only backprop.py \(or backprop.ipynb\)"):
            choose(folder, course)


def test_folders_nested_deep_or_many_files_never_stop_the_run(course, tmp_path):
    deep = make(tmp_path / "deep", "backprop.py")
    nested = [deep / "a"]
    for _ in range(1100):  # deeper than Python's recursion goes
        nested[-1].mkdir()
        nested.append(nested[-1] / "a")
    try:
        assert choose(deep, course) == [deep / "backprop.py"]
    finally:  # from the bottom up: shutil.rmtree, like os.walk, would recurse too deep
        for folder in reversed(nested[:-1]):
            folder.rmdir()
    crowded = make(tmp_path / "crowded", "backprop.py", *(f"x/{i}.txt" for i in range(10_001)))
    with pytest.raises(Unusable, match="more than 10000 files and folders"):
        choose(crowded, course)


def test_only_gradescopes_own_container_has_its_shared_folders_closed(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRADER_SHARED", raising=False)
    assert shared_folders(Layout(tmp_path)) == []  # a trial run elsewhere: /tmp stays open
    assert Path("/tmp") in shared_folders(Layout(Path("/autograder")))
    assert close_shared([tmp_path / "missing"]) == []
    inner = tmp_path / "tmp" / ".X11-unix"
    inner.mkdir(parents=True)
    inner.chmod(0o1777)
    (tmp_path / "tmp" / "link").symlink_to(tmp_path)  # never followed
    tmp_path.chmod(0o777)
    assert close_shared([tmp_path / "tmp"]) == []
    assert stat.S_IMODE(inner.stat().st_mode) == 0o1755
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o777
