"""Grade files the way otter-grader's own run does: student code and tests in one
process, each case through otter's ``ExceptionTestFile.run``.

    python tests/otter_in_process.py COURSE_ROOT SUBMISSION...

Prints, as its last line, {submission: {"exercise/case": passed}} as JSON. The course
and its test files are loaded once; each submission then runs in a process of its own,
forked from that one, so it starts from the very state a fresh run would have reached
(nothing a submission did reaches the next). The submission's code runs unconfined
here, as it would under otter: only corpus files that misbehave through their values
are given to it (tests/test_otter_agreement.py). A notebook's code cells run in order
in one namespace; a cell that fails is left behind, as a kernel would, and the cells
marked as not run when graded are skipped, as in the Gradescope autograder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np


def student_namespace(path: Path) -> dict:
    from autograder.wire import NOT_RUN

    namespace = {"__name__": "backprop"}
    if path.suffix != ".ipynb":
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        return namespace
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or source.lstrip().startswith(NOT_RUN):
            continue
        try:
            exec(compile(source, "cell", "exec"), namespace)
        except Exception:
            continue
    return namespace


def otter_results(suites: list, submission: Path) -> dict[str, bool]:
    namespace = student_namespace(submission)
    results = {}
    for suite in suites:
        with np.errstate(all="ignore"):
            suite.test_file.run(dict(namespace))
        for result in suite.test_file.test_case_results:
            name = result.test_case.body.test_func.__name__
            results[f"{suite.exercise.id}/{name}"] = result.passed
    return results


def in_a_fork(suites: list, submission: Path) -> dict[str, bool]:
    """otter_results(suites, submission) computed in a forked process of its own."""
    sys.stdout.flush()
    sys.stderr.flush()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        code = 1
        try:
            with os.fdopen(write, "w") as pipe:
                pipe.write(json.dumps(otter_results(suites, submission)))
            code = 0
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise SystemExit(f"{submission}: otter's run failed (wait status {status})")
    return json.loads(text)


def main() -> None:
    root, submissions = Path(sys.argv[1]), [Path(arg) for arg in sys.argv[2:]]
    sys.path.insert(0, str(root))
    from autograder.course import load_course
    from autograder.verdicts import load_suites

    course = load_course(root / "course.yaml")
    suites = load_suites(course)  # otter's own ExceptionTestFile, as otter parses them
    found = {str(submission): in_a_fork(suites, submission) for submission in submissions}
    print(json.dumps(found))


if __name__ == "__main__":
    main()
