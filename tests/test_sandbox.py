"""The worker that runs student code: every way a submission can fail is a result."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
from conftest import ROOT

from autograder import sandbox, wire
from autograder.sandbox import (
    SUBMISSION_LIMIT,
    WALL_FACTOR,
    StudentFault,
    Worker,
    stand_in_answer,
)
from autograder.uids import claim_uid

LOAD_CASES = [
    ("def mse(:\n    pass\n", "syntax_error", "line 1"),
    ("import numpy as np\nx = undefined_name\n", "import_error", "NameError"),
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
    limits = quick_course.limits
    if status == "timeout":  # the endless import spins to its limit: 1 s, not 5
        limits = dataclasses.replace(limits, import_seconds=1.0)
    with Worker(zygote, path, limits) as worker:
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
     "timeout", "spent 3 s neither running nor waiting for a CPU"),
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
        with pytest.raises(StudentFault, match="neither running nor waiting for a CPU"):
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
    assert faults[1:] == ["could not finish: your submission used up its time (1.5 s of CPU "
                          "time in all, or 4.5 s on the clock)"] * 2


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
    assert loaded.status == "bad_notebook"
    assert "Restart & Clear Output" in loaded.message


def test_a_function_that_timed_out_is_not_waited_for_again_nor_in_its_callers(
        tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("def f(x):\n    while True:\n        pass\n\ndef g(x):\n    return x\n\n"
                    "def h(x):\n    return f(x) + 1\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault, match="did not finish"):
            worker.call("f", (1,), {})
        start = time.monotonic()
        with pytest.raises(StudentFault) as again:
            worker.call("f", (1,), {})
        with pytest.raises(StudentFault) as through:
            worker.call("h", (1,), {})
        assert time.monotonic() - start < 0.4
        assert worker.call("g", (3,), {})[0] == 3
        assert worker.call("h", (1,), {}, {"f": lambda x: x})[0] == 2
    first = "was not run again, because in an earlier case it did not finish within 1 s " \
            "(an endless loop?)"
    assert str(again.value) == first
    assert through.value.kind == "timeout"
    assert str(through.value) == f"ran out of time: f {first} (line 9 of your file, in h)"


def test_a_function_that_stops_reading_the_graders_answers_is_not_waited_for_again(
        tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(FORGE + "def deaf(x):\n"
                    "    forge(b'{\"stand_in\": \"helper\", \"args\": [1.0], \"kwargs\": {}}')\n")

    def ahead(question, args, answer):  # more than a socket's buffer holds
        return [("helper", (2.0,), np.zeros(sandbox.STAND_IN_VALUES))]

    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault) as first:
            worker.call("deaf", (1,), {}, {"helper": lambda a: a}, ahead)
        start = time.monotonic()
        with pytest.raises(StudentFault, match="was not run again"):
            worker.call("deaf", (1,), {}, {"helper": lambda a: a}, ahead)
        assert time.monotonic() - start < 0.4
    assert first.value.kind == "timeout"
    assert "neither running nor waiting for a CPU" in str(first.value)


def test_a_function_that_timed_out_in_its_helper_still_runs_with_a_stand_in(
        tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text("def helper(x):\n    while True:\n        pass\n\n"
                    "def f(x):\n    return helper(x) + 1\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault, match="did not finish"):
            worker.call("f", (1,), {})
        assert worker.call("f", (1,), {}, {"helper": lambda x: x})[0] == 2
        with pytest.raises(StudentFault, match="was not run again"):
            worker.call("f", (1,), {})


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


@pytest.mark.parametrize("separator", ["\x1e", "\x0c", "\x85", "\u2028"])
def test_a_notebook_line_ends_where_python_ends_it(tmp_path, quick_course, zygote, separator):
    """Code after a character that str.splitlines() breaks on but Python does not (U+001E,
    form feed, ...) stays inside the comment, as in Jupyter and nbgrader's autograde."""
    import nbformat

    source = f"def f(a):\n    return 1\n# my notes{separator}def f(a):{separator}    return 2\n"
    path = tmp_path / "backprop.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]), path)
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        assert worker.call("f", (1,), {})[0] == 1


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


HELPED = """
import numpy as np
saved = []
def helper(x):
    return x * 3
def f(x):
    return helper(x)
def keep(x):
    saved.append(helper)
    return 0
def later(x):
    try:
        return saved[0](x)
    except Exception as error:
        return str(error)
def ask(kind):
    questions = {"3 axes": np.zeros((2, 2, 2)), "a list": [1.0, 2.0],
                 "too long": np.zeros((300, 1)), "a string": "x",
                 "complex": np.zeros(2, complex), "long double": np.zeros(2, np.longdouble)}
    try:
        helper(questions[kind])
    except Exception as error:
        return f"{type(error).__name__}: {error}"
def many(x):
    while True:
        helper(x)
def times(n):
    return sum(helper(1.0) for _ in range(n))
def chain(x):
    for _ in range(5):
        x = helper(x)
    return x
"""


def test_a_stand_in_answers_for_the_students_helper_during_its_call_only(
        tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        x = np.arange(3.0)
        value, _ = worker.call("f", (x,), {}, {"helper": lambda a: a * 2})
        assert np.array_equal(value, x * 2)
        assert np.array_equal(worker.call("f", (x,), {})[0], x * 3)  # the student's again
        worker.call("keep", (x,), {}, {"helper": lambda a: a * 2})
        assert "not standing in for yours now" in worker.call("later", (x,), {})[0]


@pytest.mark.parametrize("kind", ["3 axes", "a list", "too long", "a string", "complex",
                                  "long double"])
def test_a_stand_in_takes_only_small_arrays_numbers_and_dicts(
        tmp_path, quick_course, zygote, kind):
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        answer, _ = worker.call("ask", (kind,), {}, {"helper": lambda a: a})
        assert answer.startswith("StandInError: the grader's helper, standing in for yours")


def test_a_stand_in_question_naming_the_arena_outside_the_exchange_is_refused():
    arena = wire.Arena()
    try:
        for offset in [0, wire.Arena.SIZE - 8, "x"]:
            question = {"stand_in": "h", "kwargs": {}, "args": [
                {"type": "shared", "offset": offset, "dtype": "<f8", "shape": [2]}]}
            assert "error" in stand_in_answer(question, {"h": lambda a: a}, arena)
        inside = {"stand_in": "h", "kwargs": {}, "args": [
            {"type": "shared", "offset": wire.Arena.EXCHANGE, "dtype": "<f8", "shape": [2]}]}
        assert "value" in stand_in_answer(inside, {"h": lambda a: a}, arena)
    finally:
        arena.close()


def slow(a):
    """A stand-in that keeps the grader busy for 0.05 s of its CPU time."""
    end = time.thread_time() + 0.05
    while time.thread_time() < end:
        pass
    return a


def test_questions_that_keep_the_grader_busy_end_at_the_call_limit(
        tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)

    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        start = time.thread_time()
        with pytest.raises(StudentFault, match="kept the grader busy"):
            worker.call("many", (1.0,), {}, {"helper": slow})
        assert time.thread_time() - start < WALL_FACTOR * quick_course.limits.call_seconds + 0.5


def test_the_graders_answers_count_against_the_submissions_time(
        tmp_path, quick_course, zygote, monkeypatch):
    monkeypatch.setattr(sandbox, "WALL_FACTOR", 20)  # the backstops far off, whatever the load
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)

    limits = dataclasses.replace(quick_course.limits, submission_seconds=0.5)
    with Worker(zygote, path, limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault, match="used up its time"):
            worker.call("many", (1.0,), {}, {"helper": slow})
        assert worker.cpu_spent >= 0.5  # the child itself used hardly any


def test_a_stand_in_computes_in_float64(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(HELPED + "def kinds(x):\n    return str(helper(x.astype(np.float32)).dtype)\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        assert worker.call("kinds", (np.ones(3),), {}, {"helper": lambda a: a})[0] == "float64"


@pytest.mark.parametrize("guess, asked", [(1.0, 1), (1.5, 5)])
def test_answers_sent_ahead_are_taken_without_asking_only_for_the_same_question(
        tmp_path, quick_course, zygote, guess, asked):
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)
    questions = []

    def double(a):
        questions.append(a)
        return 2 * a

    def ahead(question, args, answer):  # guess 1.0: the chain's own next questions
        return [("helper", (answer * guess * 2 ** i,), answer * guess * 2 ** (i + 1))
                for i in range(4)]

    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        value, _ = worker.call("chain", (np.ones(3),), {}, {"helper": double}, ahead)
    assert value.tolist() == [32.0] * 3 and len(questions) == asked


def test_a_foresight_that_fails_costs_only_the_saving(tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)

    def fails(question, args, answer):
        raise ValueError("a question it did not expect")

    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        for _ in range(2):  # and the next call finds the child in step
            value, _ = worker.call("chain", (np.ones(3),), {}, {"helper": lambda a: 2 * a},
                                   fails)
            assert value.tolist() == [32.0] * 3


def test_answers_sent_ahead_count_against_the_questions_of_a_call(
        tmp_path, quick_course, zygote, monkeypatch):
    monkeypatch.setattr(sandbox, "STAND_IN_QUESTIONS", 42)  # not a multiple of 1 + 4
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)

    def unused(question, args, answer):  # four answers ahead that no question matches
        return [("helper", (answer + 0.5 + i,), answer) for i in range(4)]

    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        with pytest.raises(StudentFault, match="more than 42 questions in one call"):
            worker.call("many", (1.0,), {}, {"helper": lambda a: a}, unused)


def test_one_call_may_ask_the_stand_ins_a_fixed_number_of_questions(
        tmp_path, quick_course, zygote, monkeypatch):
    monkeypatch.setattr(sandbox, "STAND_IN_QUESTIONS", 40)
    path = tmp_path / "backprop.py"
    path.write_text(HELPED)
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        assert worker.call("times", (40,), {}, {"helper": lambda a: 2 * a})[0] == 80.0
        with pytest.raises(StudentFault, match="more than 40 questions in one call"):
            worker.call("times", (41,), {}, {"helper": lambda a: 2 * a})


@pytest.mark.parametrize("args", [
    [{"type": "dict", "items": {str(i): {"type": "shared", "offset": wire.Arena.EXCHANGE,
                                         "dtype": "<f8", "shape": [1024, 1024]}
                                for i in range(17)}}],
    [{"type": "shared", "offset": wire.Arena.EXCHANGE, "dtype": "<f8", "shape": [1024, 1024]},
     {"type": "shared", "offset": wire.Arena.EXCHANGE, "dtype": "<f8", "shape": [1024, 1024]}],
    [{"type": "list", "items": [{"type": "shared", "offset": wire.Arena.EXCHANGE,
                                 "dtype": "<f8", "shape": [64, 64]}] * 300}],
])
def test_a_question_too_large_is_refused_before_its_arrays_are_read(args):
    arena = wire.Arena()
    try:
        tracemalloc.start()
        answer = stand_in_answer({"stand_in": "h", "args": args, "kwargs": {}},
                                 {"h": lambda *a: a}, arena)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        arena.close()
    assert "error" in answer and peak < 1 << 20


def test_an_array_description_with_huge_sizes_is_refused_at_once():
    start = time.thread_time()
    for shape in ([10 ** 4000] * 200, [2] * 33, [-1]):
        with pytest.raises(ValueError):
            wire.describe_array({"dtype": "<f8", "shape": shape})
    assert time.thread_time() - start < 0.1


def test_a_flood_of_questions_ends_at_the_call_limit_of_the_graders_cpu(
        tmp_path, quick_course, zygote):
    path = tmp_path / "backprop.py"
    path.write_text(FORGE + "def f(x):\n    body = b'{\"stand_in\": \"nope\", \"junk\": ['"
                    " + b'1,' * 150000 + b'1]}'\n    while True:\n"
                    "        for c in channels():\n"
                    "            os.write(c, struct.pack('>I', len(body)) + body)\n"
                    "            os.read(c, 1 << 16)\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        start = time.thread_time()
        with pytest.raises(StudentFault, match="kept the grader busy"):
            worker.call("f", (1,), {})
        assert time.thread_time() - start < WALL_FACTOR * quick_course.limits.call_seconds + 0.5


@pytest.mark.parametrize("lower", ["os.nice(19)", "os.sched_setaffinity(0, {0})"])
def test_student_code_cannot_lower_its_priority(tmp_path, quick_course, zygote, lower):
    """Nor pin itself to one (busy) CPU: waiting for a CPU is excused as machine load."""
    path = tmp_path / "backprop.py"
    path.write_text(f"import os\ndef f(x):\n    try:\n        {lower}\n"
                    "    except OSError as error:\n        return error.errno\n    return 0\n")
    with Worker(zygote, path, quick_course.limits) as worker:
        assert worker.load().status == "ok"
        assert worker.call("f", (1,), {})[0] != 0


CAPABILITIES_LEFT = """
import ctypes, os, struct, sys
from autograder import confine
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(24, confine.CAP_DAC_READ_SEARCH, 0, 0, 0)  # PR_CAPBSET_DROP: a container without it
def status():
    return dict(line.split(":\t") for line in open("/proc/self/status").read().splitlines())
everything = int(status()["CapPrm"], 16) & ~(1 << confine.CAP_DAC_READ_SEARCH)
assert libc.capset(struct.pack("=Ii", confine.CAPABILITY_VERSION_3, 0),
                   struct.pack("=6I", everything & 0xFFFFFFFF, everything & 0xFFFFFFFF, 0,
                               everything >> 32, everything >> 32, 0)) == 0
try:
    confine._other_user(sys.argv[1], int(sys.argv[2]), read_anything=True)
except OSError:
    pass
status = dict(line.split(":\\t") for line in open("/proc/self/status").read().splitlines())
print(status["Uid"].split()[0], int(status["CapPrm"], 16), int(status["CapEff"], 16))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")
def test_a_container_without_the_read_capability_leaves_student_code_no_capability(tmp_path):
    """Where the container withholds CAP_DAC_READ_SEARCH, student code keeps no capability
    at all (with root's, it could make itself root again)."""
    uid = claim_uid()
    try:
        done = subprocess.run([sys.executable, "-c", CAPABILITIES_LEFT, str(tmp_path),
                               str(uid.number)], capture_output=True, text=True, cwd=ROOT,
                              timeout=60)
    finally:
        uid.release()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(uid.number), "0", "0"]


SYSTEM_V_IPC = """
import ctypes, json
from autograder import confine
libc = ctypes.CDLL(None, use_errno=True)
confine._seccomp(confine.seccomp_filter())
made = {"shmget": libc.shmget(0, 4096, 0o1600), "msgget": libc.msgget(0, 0o1600),
        "semget": libc.semget(0, 1, 0o1600), "mq_open": libc.mq_open(b"/knock", 0o102, 0o600, None)}
for remove, name in ((libc.shmctl, "shmget"), (libc.msgctl, "msgget"), (libc.semctl, "semget")):
    if made[name] != -1:
        remove(made[name], 0, None)  # IPC_RMID
if made["mq_open"] != -1:
    libc.mq_unlink(b"/knock")
print(json.dumps(made))
"""


def test_seccomp_alone_denies_memory_and_queues_shared_between_processes():
    """SysV shared memory, queues and semaphores and POSIX queues would outlive the
    process, outside its memory limit, where no IPC namespace can be made (a container)."""
    done = subprocess.run([sys.executable, "-c", SYSTEM_V_IPC], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == dict.fromkeys(["shmget", "msgget", "semget", "mq_open"], -1)


def test_a_scratch_folder_nested_past_any_path_length_is_removed(tmp_path):
    """Where there is no private tmpfs, what student code left in its scratch folder is
    removed by the grader: here folders nested 1,400 deep (deeper than Python's recursion
    goes, longer than a path may be), one of them closed to all, and 2,000 files."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(1400):
        os.mkdir("aa", dir_fd=fd)
        inner = os.open("aa", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
        if i == 700:
            for n in range(2000):
                os.close(os.open(f"f{n}", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.symlink(ROOT, "link", dir_fd=fd)  # never followed
    os.chmod(fd, 0)
    os.close(fd)
    sandbox.remove_tree(scratch)
    assert not scratch.exists() and (ROOT / "README.md").is_file()
