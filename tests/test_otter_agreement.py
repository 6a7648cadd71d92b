"""otter-grader's own autograder, built from our tests, gives our scores.

Runs `otter run -a autograder.zip` (a Jupyter kernel per submission, about
10 s each) on the reference, the stub and a sample of the corpus, two at a
time, and compares each exercise's score with our grader's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ROOT, SUBMISSIONS, notebook_of

from autograder.release import build_autograder_zip

pytestmark = pytest.mark.slow

SAMPLE = [
    ROOT / "solutions" / "backprop.py",
    ROOT / "exercises" / "backprop.py",
    *sorted((SUBMISSIONS / "correct").glob("*.py"))[:2],
    *(SUBMISSIONS / "buggy" / name for name in [
        "mse_divides_by_rows.py", "forward_no_activation.py", "sigmoid_grad_at_activation.py",
        "dense_backward_wrong_transpose.py", "update_modifies_params.py",
        "dense_raises_index_error.py", "missing_backward.py",
    ]),
]


NOTEBOOKS = [ROOT / "solutions" / "backprop.py", SUBMISSIONS / "buggy" / "dense_no_bias.py"]


def otter_scores(zip_path: Path, submission: Path, work: Path) -> dict[str, float]:
    """Per-exercise scores from otter run on one submission (alone in its folder)."""
    work.mkdir()
    name = f"backprop{submission.suffix}"
    shutil.copy(submission, work / name)
    otter = Path(sys.executable).with_name("otter")
    subprocess.run([str(otter), "run", "-a", str(zip_path), "-o", str(work), name],
                   cwd=work, check=True, capture_output=True, timeout=300)
    tests = json.loads((work / "results.json").read_text())["tests"]
    return {t["name"]: t["score"] for t in tests if "score" in t}


@pytest.fixture(scope="module")
def otter_results(course, tmp_path_factory):
    folder = tmp_path_factory.mktemp("otter")
    zip_path = build_autograder_zip(course, folder / "autograder.zip")
    notebooks = {path: notebook_of(path, tmp_path_factory.mktemp("nb")) for path in NOTEBOOKS}
    submissions = [*SAMPLE, *notebooks.values()]
    jobs = [(zip_path, path, folder / f"{i}-{path.stem}") for i, path in enumerate(submissions)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        scores = list(pool.map(lambda job: otter_scores(*job), jobs))
    by_path = dict(zip(submissions, scores))
    return by_path, notebooks


@pytest.mark.parametrize("path", SAMPLE, ids=[p.stem for p in SAMPLE])
def test_otter_run_agrees_with_our_grader(otter_results, grade, path):
    ours = {ex.exercise.id: ex.score for ex in grade(path).exercises}
    assert otter_results[0][path] == pytest.approx(ours)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_otter_run_agrees_on_notebooks_too(otter_results, grade, path):
    scores, notebooks = otter_results
    ours = {ex.exercise.id: ex.score for ex in grade(notebooks[path]).exercises}
    assert scores[notebooks[path]] == pytest.approx(ours)
    assert ours == {ex.exercise.id: ex.score for ex in grade(path).exercises}
