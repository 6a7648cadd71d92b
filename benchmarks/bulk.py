"""Bulk grading benchmark: our `grade` against otter-grader's `otter run`, side by side.

    .venv/bin/python benchmarks/bulk.py --n 1000 --otter-sample 3

1. Writes N submissions, a realistic mix cycled from the reference, the
   alternative correct solutions, every catalogued mistake, a crash at import
   and a syntax error (no endless loops: they would only time the time limit).
   Runs the hidden suite in one process against the reference, otter's way, with
   no sandbox: the floor.
2. Grades them with `python -m autograder grade --force`, at --jobs 1 and at
   --jobs J, timing the wall clock and the CPU of the whole process tree, and
   sampling its memory (RSS and PSS summed over every descendant); our CPU per
   submission is compared with the floor.
3. Runs `otter run -a autograder.zip` (built from the same tests) on a sample,
   checks that its per-exercise scores equal ours, and times it.
4. Times `grade` on a folder of one submission (benchmarks/one.py: its fixed cost)
   beside `otter run`'s time for one submission.
5. Times `make demo`'s grading (examples/class).
6. Times `check` on one file against `otter check` on the same public tests.
Prints medians and ratios measured in this one run; any command that fails stops it.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from one import one_submission_times, summary

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
OTTER = str(Path(PYTHON).with_name("otter"))


def submission_pool() -> list[Path]:
    corpus = ROOT / "tests" / "submissions"
    return [ROOT / "solutions" / "backprop.py", ROOT / "exercises" / "backprop.py",
            *sorted((corpus / "correct").glob("*.py")), *sorted((corpus / "buggy").glob("*.py"))]


def write_class(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    pool = [p.read_text() for p in submission_pool()]
    pool += ["import numpy as np\nundefined_name\n", "def mse(y_true, y_pred:\n    pass\n"]
    for i in range(n):
        (folder / f"s{i:05d}.py").write_text(pool[i % len(pool)])


def _tree(pid: int) -> list[int]:
    pids, stack = [pid], [pid]
    while stack:
        try:
            tasks = list(Path(f"/proc/{stack.pop()}/task").iterdir())
        except OSError:  # the process ended while we looked
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            pids += children
            stack += children
    return pids


def _memory(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over the given processes."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def run_measured(command: list[str]) -> tuple[float, int, int, str]:
    """Wall seconds and peak tree RSS/PSS (KiB) of a command."""
    peak = [0, 0]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)

    def sample() -> None:
        while process.poll() is None:
            rss, pss = _memory(_tree(process.pid))
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    output = process.communicate()[0]
    wall = time.perf_counter() - start
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"grade failed ({process.returncode}):\n{output}")
    return wall, peak[0], peak[1], output


def our_scores(out: Path, student: str) -> dict[str, float]:
    data = json.loads((out / "results" / f"{student}.json").read_text())
    return data["extra_data"]["exercises"]


def otter_run(zip_path: Path, source: Path, work: Path) -> tuple[float, dict[str, float]]:
    work.mkdir()
    shutil.copy(source, work / "backprop.py")
    start = time.perf_counter()
    subprocess.run([OTTER, "run", "-a", str(zip_path), "-o", str(work), "backprop.py"],
                   cwd=work, check=True, capture_output=True)
    wall = time.perf_counter() - start
    tests = json.loads((work / "results.json").read_text())["tests"]
    return wall, {t["name"]: t["score"] for t in tests if "score" in t}


def timed(command: list[str], repeat: int, expect: int, cwd: Path = ROOT) -> float:
    """Median wall seconds of the command; every run must exit with expect."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if process.returncode != expect:
            raise SystemExit(f"{' '.join(command)} exited with {process.returncode}, not "
                             f"{expect}:\n{process.stdout}{process.stderr}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="submissions to grade")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--otter-sample", type=int, default=3, help="submissions for otter run")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of each check timing and of the one-submission grade")
    parser.add_argument("--check-python", default=PYTHON,
                        help="python of the environment to time `check` in, for example a "
                             "student's venv with only numpy, otter-grader and PyYAML")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bulk-bench-"))
    try:
        report(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def floor_seconds(repeat: int) -> float:
    """Median CPU seconds of the whole hidden suite run in one process against the
    reference (otter's own runner, no sandbox, no wire): what grading one submission
    cannot beat."""
    script = ("import sys, time, statistics, importlib.util\n"
              f"sys.path.insert(0, {str(ROOT)!r})\n"
              "from pathlib import Path\n"
              "from autograder.course import load_course\n"
              "from autograder.verdicts import load_suites\n"
              f"course = load_course(Path({str(ROOT / 'course.yaml')!r}))\n"
              "suites = load_suites(course)\n"
              "spec = importlib.util.spec_from_file_location('backprop', "
              "course.path('reference'))\n"
              "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
              "times = []\n"
              f"for _ in range({repeat}):\n"
              "    start = time.process_time()\n"
              "    for suite in suites:\n"
              "        suite.test_file.run(dict(vars(module)))\n"
              "        assert all(r.passed for r in suite.test_file.test_case_results)\n"
              "    times.append(time.process_time() - start)\n"
              "print(statistics.median(times))\n")
    done = subprocess.run([PYTHON, "-c", script], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the in-process reference run failed:\n{done.stderr}")
    return float(done.stdout.split()[-1])


def graded(args: argparse.Namespace, work: Path, jobs: int) -> tuple[Path, float, float]:
    """Grade the class with --jobs jobs: (out folder, wall seconds, CPU seconds of the whole
    process tree), printing throughput and peak memory."""
    out = work / f"out-{jobs}"
    command = [PYTHON, "-m", "autograder", "grade", str(work / "class"), "--out", str(out),
               "--jobs", str(jobs), "--force"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, rss, pss, _ = run_measured(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"ours, --jobs {jobs}: {args.n} submissions in {wall:.1f} s wall = "
          f"{args.n / wall:.1f} per second; CPU {1000 * cpu / args.n:.0f} ms and wall "
          f"{1000 * wall / args.n:.0f} ms per submission; peak memory of the process tree: "
          f"RSS {rss / 1024:.0f} MiB, PSS {pss / 1024:.0f} MiB")
    return out, wall, cpu


def demo_seconds() -> float:
    """Wall seconds of `make demo`'s grading (examples/class, default --jobs, fresh out)."""
    out = Path(tempfile.mkdtemp(prefix="demo-bench-"))
    try:
        wall, _, _, _ = run_measured([PYTHON, "-m", "autograder", "grade",
                                      str(ROOT / "examples" / "class"), "--out", str(out)])
        return wall
    finally:
        shutil.rmtree(out, ignore_errors=True)


def report(args: argparse.Namespace, work: Path) -> None:
    write_class(work / "class", args.n)
    floor = floor_seconds(args.repeat)
    print(f"floor: the hidden suite in-process against the reference: median "
          f"{1000 * floor:.0f} ms of CPU")
    _, wall_1, cpu_1 = graded(args, work, 1)
    out, wall_n, cpu_n = graded(args, work, args.jobs)
    print(f"ours: CPU per submission {1000 * cpu_n / args.n:.0f} ms = "
          f"{cpu_n / args.n / floor:.1f}x the floor (--jobs {args.jobs}; "
          f"{cpu_1 / args.n / floor:.1f}x at --jobs 1)")

    subprocess.run([PYTHON, "-m", "autograder", "release", "--out", str(work / "release")],
                   cwd=ROOT, check=True, capture_output=True)
    zip_path = work / "release" / "autograder.zip"
    pool = len(submission_pool())
    otter_times, disagreements = [], 0
    for i in range(args.otter_sample):
        index = (i * 7) % min(args.n, pool)
        student = f"s{index:05d}"
        seconds, scores = otter_run(zip_path, work / "class" / f"{student}.py",
                                    work / f"otter-{i}")
        otter_times.append(seconds)
        ours = our_scores(out, student)
        same = all(abs(scores.get(k, -1) - v) < 1e-9 for k, v in ours.items())
        disagreements += not same
        print(f"otter run {student}: {seconds:.1f} s, scores {'agree' if same else 'DIFFER'} "
              f"({sum(ours.values()):g} points)")
    per_otter = statistics.median(otter_times)
    per_core = wall_1 / args.n
    print(f"otter run: median {per_otter:.2f} s per submission, serial; ours at --jobs 1 "
          f"{1000 * per_core:.0f} ms -> {per_otter / per_core:.0f}x per core; "
          f"{disagreements} disagreements")
    one = one_submission_times(PYTHON, args.repeat)
    print(f"{summary(one)}; otter run of one submission: median {per_otter:.2f} s "
          f"({per_otter / statistics.median(one):.1f}x ours)")
    print(f"make demo's grading (12 students): {demo_seconds():.1f} s")

    student_file = ROOT / "exercises" / "backprop.py"
    check_python = Path(args.check_python)
    check = timed([str(check_python), "-m", "autograder", "check", str(student_file)],
                  args.repeat, expect=1)  # the stubs fail the public tests
    otter_check = timed([str(check_python.with_name("otter")), "check", str(student_file),
                         "-t", str(ROOT / "exercises" / "tests")], args.repeat, expect=0,
                        cwd=work)
    print(f"check timed with {check_python}")
    print(f"check one file: ours median {check:.2f} s, otter check median {otter_check:.2f} s "
          f"(ratio {otter_check / check:.1f}x)")


if __name__ == "__main__":
    main()
