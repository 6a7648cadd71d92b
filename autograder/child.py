"""The untrusted side: loads one student file and answers calls, nothing else.

Run as a script (``python -I child.py SUBMISSION FD_IN FD_OUT``) in its own
process, started by ``sandbox.Worker``. It never imports the grader, the
reference or the tests: the only module of ours it loads is ``wire``, by path.
Replies go to FD_OUT; the student's prints go to stdout/stderr, which the
parent keeps for the instructor and never reads as a result.
"""

import importlib.util
import os
import sys
import traceback


def _load_wire():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wire.py")
    spec = importlib.util.spec_from_file_location("_grader_wire", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_wire()


def _student_line(error, path):
    """The last line of the student's file in the traceback, or None."""
    if isinstance(error, SyntaxError) and error.filename == path:
        return error.lineno
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    return frames[-1].lineno if frames else None


def _fault(error, path):
    if isinstance(error, SystemExit):
        kind, text = "exit", f"sys.exit({error.code!r})"
    elif isinstance(error, NotImplementedError):
        kind, text = "todo", "NotImplementedError"
    elif isinstance(error, MemoryError):
        kind, text = "memory", "MemoryError"
    elif isinstance(error, SyntaxError):
        kind, text = "syntax", f"SyntaxError: {error.msg}"
    else:
        kind, text = "error", f"{type(error).__name__}: {error}"
    return {"fault": kind, "message": text[:500], "line": _student_line(error, path)}


def _load_student(path):
    spec = importlib.util.spec_from_file_location("backprop", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["backprop"] = module
    spec.loader.exec_module(module)
    return module


def _serve(module, path, fd_in, fd_out):
    while True:
        try:
            request = wire.receive(fd_in)
        except EOFError:
            return
        function = getattr(module, request["function"], None)
        args = [wire.from_plain(a) for a in request["args"]]
        kwargs = {k: wire.from_plain(v) for k, v in request["kwargs"].items()}
        try:
            value = function(*args, **kwargs)
            reply = {"value": wire.to_plain(value)}
        except BaseException as error:  # the student's failure is the result
            reply = _fault(error, path)
        reply["args"] = [wire.to_plain(a) for a in args]
        reply["kwargs"] = {k: wire.to_plain(v) for k, v in kwargs.items()}
        wire.send(fd_out, reply)


def main():
    path, fd_in, fd_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        module = _load_student(path)
    except BaseException as error:  # a broken file is a verdict, not a crash
        wire.send(fd_out, _fault(error, path))
        return
    names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
    wire.send(fd_out, {"ready": names})
    _serve(module, path, fd_in, fd_out)


if __name__ == "__main__":
    main()
