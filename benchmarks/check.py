"""`check` benchmark: ours against `otter check`, on the same file and public tests, in
the same run.

    .venv/bin/python benchmarks/check.py --repeat 7
    .venv/bin/python benchmarks/check.py --student-venv /tmp/student-venv   # reuse one

1. Makes the student files and the student's wheel with `release`, in a temp folder
   outside this repository, with the reference as the student's file.
2. Times, `--repeat` times each, with the median printed:
   - our `check` in this environment (the `make demo` one, with nbgrader's Jupyter stack);
   - our `check` in a student's venv (only the wheel installed; made here unless given);
   - `otter check` on the same file and the same public tests, in both environments;
   - in the student's venv, the notebook's first `check()` in a fresh Python (its
     imports included) and a second `check()` in the same process.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)

NOTEBOOK = """
import time
start = time.perf_counter()
from autograder.notebook import check
namespace = {}
exec(open("backprop.py").read(), namespace)
check("backprop", namespace)
first = time.perf_counter() - start
start = time.perf_counter()
check("train", namespace)
print(first, time.perf_counter() - start)
"""


def timed(command: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def notebook_times(python: Path, cwd: Path, repeat: int) -> tuple[float, float]:
    runs = [subprocess.run([str(python), "-c", NOTEBOOK], cwd=cwd, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(repeat)]
    return (statistics.median(float(first) for first, _ in runs),
            statistics.median(float(second) for _, second in runs))


def student_venv(wheel: Path, folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timing")
    parser.add_argument("--student-venv", type=Path, default=None,
                        help="a student's venv with the wheel installed (default: make one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="check-bench-"))
    try:
        report(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, work: Path) -> None:
    release = work / "release"
    subprocess.run([str(PYTHON), "-m", "autograder", "--course", str(ROOT / "course.yaml"),
                    "release", "--out", str(release)], cwd=ROOT, check=True,
                   capture_output=True)
    folder = release / "student"
    shutil.copy(ROOT / "solutions" / "backprop.py", folder / "backprop.py")
    wheel = next(release.glob("*.whl"))
    student = (args.student_venv / "bin" / "python" if args.student_venv
               else student_venv(wheel, work / "venv"))
    if args.student_venv:  # the wheel of this run, over whatever was there
        subprocess.run([str(student), "-m", "pip", "install", "--quiet", "--no-deps",
                        "--force-reinstall", str(wheel)], check=True)
    rows = []
    for label, python in [("make demo env", PYTHON), ("student venv", student)]:
        ours = timed([str(python), "-m", "autograder", "check", "backprop.py"], folder,
                     args.repeat)
        otter = timed([str(python.with_name("otter")), "check", "backprop.py", "-t", "tests"],
                      folder, args.repeat)
        rows.append(f"{label:<14} ours median {ours:.2f} s, otter check median {otter:.2f} s "
                    f"(otter / ours = {otter / ours:.1f}x)")
    first, again = notebook_times(student, folder, args.repeat)
    print(f"check of one file (the reference), {args.repeat} runs each:")
    print("\n".join(rows))
    print(f"student venv   notebook: first check() {first:.2f} s (imports included), "
          f"the next {1000 * again:.0f} ms")


if __name__ == "__main__":
    main()
