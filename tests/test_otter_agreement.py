"""otter-grader agrees with our grader, case by case, on every corpus file otter can run.

Two checks:
- otter's own test-file runner (``ExceptionTestFile.run``, student code and tests in
  one process, as otter runs them; tests/otter_in_process.py) gives every case the
  same pass or fail as our grader, for the reference, the stub, every correct and
  buggy file, the hostile files that misbehave only through their values, and the
  notebook form of each;
- ``otter run -a autograder.zip`` (a Jupyter kernel per submission, about 10 s each)
  gives our per-exercise scores on a sample, a .py file and a notebook.

The other hostile files are left out because otter cannot run them, or would be
fooled by them in its one unconfined process: they end or kill the process
(sys.exit, os._exit, signals, kill -1, segfaults), hang (endless loops, sleeps),
exhaust it (memory, disk, processes, prints), talk to our sandbox's channel, or
patch and read the very process the tests run in (numpy, builtins, sys.modules).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, SUBMISSIONS, notebook_of

from autograder.release import build_autograder_zip

pytestmark = pytest.mark.slow

VALUE_ONLY_HOSTILE = ["fake_results_in_output.py", "lying_return_values.py",
                      "mse_zeroes_inputs.py", "terminal_and_feedback_forgery.py",
                      "train_fakes_its_losses.py", "train_without_gradient_descent.py"]
FILES = [ROOT / "solutions" / "backprop.py", ROOT / "exercises" / "backprop.py",
         *sorted((SUBMISSIONS / "correct").glob("*.py")),
         *sorted((SUBMISSIONS / "buggy").glob("*.py")),
         *(SUBMISSIONS / "hostile" / name for name in VALUE_ONLY_HOSTILE)]
FORMS = [(path, form) for path in FILES for form in ("py", "ipynb")]
ZIP_SAMPLE = [ROOT / "solutions" / "backprop.py",
              SUBMISSIONS / "buggy" / "dense_backward_wrong_transpose.py"]


def otter_in_process(submission: Path) -> dict[str, bool]:
    script = Path(__file__).with_name("otter_in_process.py")
    done = subprocess.run([sys.executable, str(script), str(ROOT), str(submission)],
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def otter_cases(tmp_path_factory):
    """(file, form) -> (the submission, a future of otter's per-case results), two
    running at a time while the tests grade the same files with our grader."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures: dict[tuple[Path, str], tuple[Path, Future]] = {}
        for path, form in FORMS:
            target = path if form == "py" else notebook_of(path, tmp_path_factory.mktemp("nb"))
            futures[path, form] = target, pool.submit(otter_in_process, target)
        yield futures


def our_cases(result) -> dict[str, bool]:
    return {f"{ex.exercise.id}/{case.name}": case.passed
            for ex in result.exercises for case in ex.cases}


@pytest.mark.parametrize("path, form", FORMS,
                         ids=[f"{p.parent.name}/{p.stem}.{f}" for p, f in FORMS])
def test_otter_agrees_case_by_case(otter_cases, grade, path, form):
    submission, theirs = otter_cases[path, form]
    ours = our_cases(grade(submission))
    theirs = theirs.result()
    assert theirs == ours, {case: (theirs.get(case), ours.get(case))
                            for case in {*theirs, *ours} if theirs.get(case) != ours.get(case)}


def otter_run_scores(zip_path: Path, submission: Path, work: Path) -> dict[str, float]:
    """Per-exercise scores from otter run on one submission (alone in its folder)."""
    work.mkdir()
    name = f"backprop{submission.suffix}"
    shutil.copy(submission, work / name)
    otter = Path(sys.executable).with_name("otter")
    subprocess.run([str(otter), "run", "-a", str(zip_path), "-o", str(work), name],
                   cwd=work, check=True, capture_output=True, timeout=300)
    tests = json.loads((work / "results.json").read_text())["tests"]
    return {t["name"]: t["score"] for t in tests if "score" in t}


def test_otter_run_with_autograder_zip_gives_our_scores(course, grade, tmp_path):
    zip_path = build_autograder_zip(course, tmp_path / "autograder.zip")
    (tmp_path / "nb").mkdir()
    notebook = notebook_of(ZIP_SAMPLE[1], tmp_path / "nb")
    submissions = [*ZIP_SAMPLE, notebook]
    jobs = [(zip_path, path, tmp_path / f"{i}-{path.stem}") for i, path in enumerate(submissions)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        theirs = list(pool.map(lambda job: otter_run_scores(*job), jobs))
    for path, scores in zip(submissions, theirs):
        ours = {ex.exercise.id: ex.score for ex in grade(path).exercises}
        assert scores == pytest.approx(ours), path.name
