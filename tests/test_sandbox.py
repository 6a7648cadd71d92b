"""The worker that runs student code: every way a submission can fail is a result."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.sandbox import StudentFault, Worker

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
