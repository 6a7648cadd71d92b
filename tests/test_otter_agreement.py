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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import (
    BUGGY,
    CORPUS_FORMS,
    CORRECT,
    GRADED_CORPUS,
    GRADERS,
    REFERENCE,
    ROOT,
    STUB,
    SUBMISSIONS,
    VALUE_ONLY_HOSTILE,
    notebook_of,
)

from autograder.release import build_autograder_zip

pytestmark = pytest.mark.slow

FILES = [REFERENCE, STUB, *CORRECT, *BUGGY, *VALUE_ONLY_HOSTILE]
FORMS = [(path, form) for path in FILES for form in ("py", "ipynb")]
ZIP_SAMPLE = [REFERENCE, SUBMISSIONS / "buggy" / "dense_backward_wrong_transpose.py"]


def start_otter_in_process(submissions: list[Path]) -> subprocess.Popen:
    """otter's in-process run of these submissions (tests/otter_in_process.py)."""
    script = Path(__file__).with_name("otter_in_process.py")
    return subprocess.Popen([sys.executable, str(script), str(ROOT), *map(str, submissions)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def otter_results(run: subprocess.Popen) -> dict[str, dict[str, bool]]:
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    return json.loads(out.splitlines()[-1])


def run_otter_in_process(setup) -> dict[tuple[Path, str], dict[str, bool]]:
    """(file, form) -> otter's per-case results on the very files our grader grades
    (conftest.GRADED_CORPUS), from GRADERS runs of otter at once (in the background:
    conftest.Background)."""
    forms = {form: setup.grading_pool.files(*CORPUS_FORMS[form]) for form in ("py", "ipynb")}
    targets = {(path, form): forms[form][path] for path, form in FORMS}
    shares = [list(targets.values())[i::GRADERS] for i in range(GRADERS)]
    runs = [start_otter_in_process(share) for share in shares]
    found = {}
    for run in runs:
        found.update(otter_results(run))
    return {key: found[str(target)] for key, target in targets.items()}


@pytest.fixture(scope="module")
def otter_cases(background):
    return background.result("otter in process", run_otter_in_process)


def our_cases(result) -> dict[str, bool]:
    return {f"{ex.exercise.id}/{case.name}": case.passed
            for ex in result.exercises for case in ex.cases}


@pytest.mark.parametrize("path, form", FORMS,
                         ids=[f"{p.parent.name}/{p.stem}.{f}" for p, f in FORMS])
def test_otter_agrees_case_by_case(otter_cases, graded_corpus, path, form):
    ours = our_cases(graded_corpus.result(path, form))
    theirs = otter_cases[path, form]
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


def run_otter_on_the_sample(setup) -> list[tuple[Path, dict[str, float]]]:
    """otter run -a autograder.zip on ZIP_SAMPLE and the notebook form of its buggy file,
    each in a folder of its own, all at once (in the background: conftest.Background):
    [(submission, scores)]."""
    folder = setup.tmp_path_factory.mktemp("otter-run")
    zip_path = build_autograder_zip(setup.course, folder / "autograder.zip")
    (folder / "nb").mkdir()
    submissions = [*ZIP_SAMPLE, notebook_of(ZIP_SAMPLE[1], folder / "nb")]
    with ThreadPoolExecutor(len(submissions)) as runs:
        scores = runs.map(lambda i: otter_run_scores(zip_path, submissions[i],
                                                     folder / f"{i}-{submissions[i].stem}"),
                          range(len(submissions)))
        return list(zip(submissions, scores))


GRADED = GRADED_CORPUS
BACKGROUND = {"otter in process": run_otter_in_process, "otter run": run_otter_on_the_sample}


def test_otter_run_with_autograder_zip_gives_our_scores(background, graded_corpus, grade):
    for path, scores in background.result("otter run", run_otter_on_the_sample):
        result = graded_corpus[path] if path in FILES else grade(path)
        ours = {ex.exercise.id: ex.score for ex in result.exercises}
        assert scores == pytest.approx(ours), path.name
