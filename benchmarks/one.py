"""One-submission benchmark: the fixed cost of `grade` on a folder with one file.

    .venv/bin/python benchmarks/one.py --repeat 5

Grades a folder holding only the reference (as `ref.py`) with
`python -m autograder grade DIR --out OUT`, a fresh OUT each run, so every run
checks the reference under the limits, grades the file and writes every output.
Each run must exit with 0 and give the reference full marks. Prints the median
wall time (and the fastest and slowest run). benchmarks/bulk.py prints the same
line beside `otter run`'s time for one submission.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.0  # seconds, the median asked of it


def _grade_once(python: str, folder: Path, out: Path) -> float:
    start = time.perf_counter()
    process = subprocess.run([python, "-m", "autograder", "grade", str(folder), "--out",
                              str(out)], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"grade exited with {process.returncode}:\n{process.stdout}"
                         f"{process.stderr}")
    with open(out / "grades.csv", newline="") as handle:
        row = next(csv.DictReader(handle))
    if row["score"] != row["max_score"]:
        raise SystemExit(f"grade gave the reference {row['score']}/{row['max_score']}:\n"
                         f"{process.stdout}{process.stderr}")
    return wall


def one_submission_times(python: str, repeat: int) -> list[float]:
    """Wall seconds of `repeat` runs of grade on a folder holding only the reference."""
    work = Path(tempfile.mkdtemp(prefix="one-bench-"))
    try:
        folder = work / "class"
        folder.mkdir()
        shutil.copy(ROOT / "solutions" / "backprop.py", folder / "ref.py")
        return [_grade_once(python, folder, work / f"out-{i}") for i in range(repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summary(times: list[float]) -> str:
    return (f"grade one submission: median {statistics.median(times):.2f} s of {len(times)} "
            f"runs (fastest {min(times):.2f} s, slowest {max(times):.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of grade")
    parser.add_argument("--python", default=sys.executable,
                        help="python of the environment to time grade in")
    args = parser.parse_args()
    times = one_submission_times(args.python, args.repeat)
    print(summary(times) + f"; target: at most {TARGET:g} s")


if __name__ == "__main__":
    main()
