"""The worker that runs student code: every way a submission can fail is a result."""

from __future__ import annotations

import dataclasses
import time
import tracemalloc

import numpy as np
import pytest

from autograder import wire
from autograder.sandbox import SUBMISSION_LIMIT, WALL_FACTOR, StudentFault, Worker

LOAD_CASES = [
    ("def mse(:\n    pass\n", "syntax", "line 1"),
    ("import numpy as np\nx = undefined_name\n", "error", "NameError"),
    ("import sys\nsys.exit(3)\n", "exit", "sys.exit(3)"),
    ("import os\nos._exit(0)\n", "exit", "exit code 0"),
    ("while True:\n    pass\n", "timeout", "did not finish"),
    ("x = bytearray(2 * 1024 ** 3)\n", "memory", "MemoryError"),
    ("import ctypes\nctypes.string_at(0)\n", "crashed", "segmentation fault"),
]


@pytest.mark.parametrize("source, status, words", LOAD_CASES)
def test_a_broken_file_gets_a_clear_load_status(
        tmp_path, quick_course, zygote, source, status, words):
    path = tmp_path / "backprop.py"
    path.write_text(source)
    with Worker(zygote, path, quick_course.limits) as worker:
        loaded = worker.load()
    assert loaded.status == status
    assert words in loaded.message


CALL_CASES = [
    ("def f(x):\n    return 1 / 0\n", "error", "raised ZeroDivisionError: division by zero"),
    ("def f(x):\n    raise NotImplementedError()\n", "todo", "not written yet"),
    ("def f(x):\n    while True:\n        pass\n", "timeout", "did not finish within 1 s"),
    ("import sys\ndef f(x):\n    sys.exit(1)\n", "exit", "called sys.exit(1)"),
    ("import os\ndef f(x):\n    os._exit(5)\n", "exit", "exit code 5"),
    ("import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
     "crashed", "segmentation fault"),
    ("import numpy as np\ndef f(x):\n    return np.ones((100000, 100000))\n",
     "memory", "ran out of memory"),
]
# Student code that writes its own frames on the grader's channel.
FORGE = """import os, stat, struct, time
def channels():
    return [fd for fd in range(3, 64) if _socket(fd)]
def _socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False
def forge(body, size=None):
    for fd in channels():
        os.write(fd, struct.pack(">I", len(body) if size is None else size) + body)
    time.sleep(100)
"""
CALL_CASES += [
    (FORGE + "def f(x):\n    forge(b'{' + b' ' * 50, size=100)\n",
     "timeout", "did not finish within 3 s while using little CPU time"),
    (FORGE + "def f(x):\n    forge(b'x', size=64 * 1024 * 1024)\n", "output", "too large"),
    (FORGE + "def f(x):\n    forge(b'[' * 100000 + b']' * 100000)\n", "crashed", "could not read"),
    (FORGE + "def f(x):\n    forge(b'{\"value\": {\"type\": \"ndarray\", \"npy\": 5}}')\n",
     "crashed", "could not read"),
    (FORGE + "def f(x):\n    forge(b'{\"fault\": [1], \"message\": {}}')\n",
     "crashed", "could not read"),
]


@pytest.mark.parametrize("source, kind, words", CALL_CASES)
def test_a_failing_call_fails_alone_and_the_next_call_works(
        tmp_path, quick_course, zygote, source, kind, words):
    path = tmp_path / "backprop.py"
    path.write_text(source + "\ndef ok(x):\n    return x * 2\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault) as fault:
            worker.call("f", (np.ones(2),), {})
        value, _ = worker.call("ok", (np.ones(2),), {})
    assert (fault.value.kind, words in str(fault.value)) == (kind, True)
    assert np.array_equal(value, [2.0, 2.0])


def test_changes_to_arguments_come_back(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("def f(a, d, c, e):\n    a += 1\n    d['k'] = 7\n    return None\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        worker.load()
        _, changed = worker.call("f", (np.zeros(2), {"k": np.zeros(1)}, np.ones(1)),
                                 {"e": np.ones(1)})
    assert set(changed) == {"0", "1"}
    assert np.array_equal(changed["0"], [1.0, 1.0])
    assert changed["1"] == {"k": 7}


def test_a_lying_array_subclass_comes_back_as_a_plain_array(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(
        "import numpy as np\n"
        "class Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n        return True\n"
        "def f(x):\n    return np.zeros(3).view(Liar)\n"
    )
    with Worker(zygote, path, quick_course.limits) as worker:
        worker.load()
        value, _ = worker.call("f", (np.ones(3),), {})
    assert type(value) is np.ndarray
    assert not np.array_equal(value, np.ones(3))


def test_student_prints_are_kept_for_the_instructor(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("print('loading')\ndef f(x):\n    print('called', x)\n    return x\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        worker.load()
        worker.call("f", (1.0,), {})
        assert worker.output() == "loading\ncalled 1.0\n"


def test_student_prints_are_cut_at_the_limit(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("def f(x):\n    print('x' * 200000)\n    return x\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        worker.load()
        worker.call("f", (1.0,), {})
        output = worker.output()
    assert output.endswith("[... output cut]")
    assert len(output) < quick_course.limits.output_kb * 1024 + 100


def test_a_trickled_reply_ends_at_the_call_limit(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(FORGE + "def f(x):\n    forge(b'{', size=1000)\n"
                    "def g(x):\n    for c in channels():\n        os.write(c, b'\\0\\0\\3')\n"
                    "    while True:\n        [os.write(c, b' ') for c in channels()]\n"
                    "        time.sleep(0.3)\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        start = time.monotonic()
        with pytest.raises(StudentFault, match="while using little CPU time"):
            worker.call("g", (1,), {})
        assert time.monotonic() - start < WALL_FACTOR * quick_course.limits.call_seconds + 0.5


def test_calls_after_the_submissions_time_is_spent_say_so(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("def f(x):\n    while True:\n        pass\n\ng = h = f\n")
    limits = dataclasses.replace(quick_course.limits, submission_seconds=1.5)
    with Worker(zygote, path, limits) as worker:
        assert worker.load().status == "ok"
        faults = []
        for name in ("f", "g", "h"):
            with pytest.raises(StudentFault) as fault:
                worker.call(name, (1,), {})
            faults.append(str(fault.value))
    assert faults[0] == "did not finish within 1 s (an endless loop?)"
    assert faults[1:] == ["the submission used up its 1.5 s in all"] * 2


PARSE_MEMORY_MB = 16  # the most that parsing one reply may cost (README)
REPLY = wire.MAX_REPLY - 32
WORST_REPLIES = {
    "floats": b'{"value": [' + b"1e9," * (REPLY // 4) + b"1]}",
    "small ints": b'{"value": [' + b"1," * (REPLY // 2) + b"1]}",
    "empty strings": b'{"value": [' + b'"",' * (REPLY // 3) + b"1]}",
    "one long string": b'{"value": "' + b"a" * REPLY + b'"}',
    "many arrays": b'{"value": [' + b'{"type": "ndarray", "npy": "AAAA"},' * 400 + b"1]}",
}


@pytest.mark.parametrize("name", sorted(WORST_REPLIES))
def test_parsing_the_largest_hostile_reply_is_bounded(name):
    body = WORST_REPLIES[name]
    assert len(body) <= wire.MAX_REPLY
    tracemalloc.start()
    try:
        wire.from_plain(wire._parse(body)["value"])
    except (ValueError, TypeError):
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < PARSE_MEMORY_MB * 2**20


def test_a_frame_over_the_limit_is_refused_before_its_body_is_read():
    reads = []

    def read(size):
        reads.append(size)
        return (64 * 2**20).to_bytes(4, "big") if len(reads) == 1 else b"x" * size

    with pytest.raises(wire.TooLarge):
        wire.receive(read, wire.MAX_REPLY)
    assert reads == [4]


def test_a_notebook_with_large_outputs_loads(tmp_path, quick_course, zygote):
    import nbformat

    cell = nbformat.v4.new_code_cell("def f(x):\n    return x + 1\n")
    cell.outputs = [nbformat.v4.new_output("stream", text="x" * (20 * 2**20))]
    path = tmp_path / "backprop.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        assert worker.call("f", (1,), {})[0] == 2


def test_a_file_over_the_submission_limit_is_told_what_to_do(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.ipynb"
    with open(path, "wb") as handle:
        handle.truncate(SUBMISSION_LIMIT + 1)
    with Worker(zygote, path, quick_course.limits) as worker:
        loaded = worker.load()
    assert loaded.status == "notebook"
    assert "Restart & Clear Output" in loaded.message


def test_a_function_that_timed_out_is_not_waited_for_again(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("def f(x):\n    while True:\n        pass\n\ndef g(x):\n    return x\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault, match="did not finish"):
            worker.call("f", (1,), {})
        start = time.monotonic()
        with pytest.raises(StudentFault) as again:
            worker.call("f", (1,), {})
        assert time.monotonic() - start < 0.2
        assert worker.call("g", (3,), {})[0] == 3
    assert str(again.value) == ("was not run again, because in an earlier case it did not "
                                "finish within 1 s (an endless loop?)")


def test_a_reply_with_too_many_items_is_not_expanded(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(f"def f(x):\n    return [0] * {wire.MAX_ITEMS + 1}\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        value, _ = worker.call("f", (1,), {})
    assert isinstance(value, wire.Unreadable)


def test_an_error_in_a_helper_points_at_the_call_in_the_function_under_test(
        tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("def helper(a, b):\n    return a @ b\n\n"
                    "def f(x):\n    y = x + 1\n    return helper(y, x)\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault) as fault:
            worker.call("f", (np.ones((2, 3)),), {})
    assert str(fault.value).endswith("(line 6 of your file, in f, which called helper (the "
                                     "error came up at line 2 of your file))")


def test_a_notebook_error_names_the_code_cell_as_a_student_counts_them(
        tmp_path, quick_course, zygote):
    import nbformat

    cells = [nbformat.v4.new_markdown_cell("# The lesson"), nbformat.v4.new_code_cell("x = 1"),
             nbformat.v4.new_markdown_cell("Now f:"),
             nbformat.v4.new_code_cell("def f(a):\n    return a / 0\n")]
    path = tmp_path / "backprop.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault) as fault:
            worker.call("f", (1,), {})
    assert str(fault.value).endswith("(line 2 of code cell 2 (starting `def f(a):`), in f)")


def test_a_call_limit_counts_the_students_cpu_not_the_clock(tmp_path, quick_course, zygote):
    """A call that sleeps for most of a second but computes little stays within a
    0.5 s limit: waiting is not charged, only the backstop bounds it."""
    path = tmp_path / "backprop.py"
    path.write_text("import time\ndef f(x):\n    time.sleep(1.0)\n    return x\n")
    limits = dataclasses.replace(quick_course.limits, call_seconds=0.5)
    with Worker(zygote, path, limits) as worker:
        assert worker.load().status == "ok"
        assert worker.call("f", (7,), {})[0] == 7


def test_cpu_used_while_the_grader_waits_for_an_exit_is_counted(tmp_path, quick_course, zygote):
    """A child that closes its channel and spins through the grace the grader gives it
    to exit is charged for that time too (read when it is reaped)."""
    path = tmp_path / "backprop.py"
    path.write_text(FORGE + "def f(x):\n    for fd in channels():\n        os.close(fd)\n"
                    "    while True:\n        pass\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault):
            worker.call("f", (1,), {})
        assert worker.cpu_spent >= 0.3
