"""The untrusted side: a fork server, and the process that runs one student file.

Run as a script, ``python -I -u -B child.py CONTROL_FD``, by ``sandbox.Zygote``.
It imports numpy once, then waits for requests on the control socket. For each
submission it forks: the new process limits itself, loads the student's file
and answers calls on its own socket until it is killed. The fork server never
loads student code, the reference or the tests, so every submission starts
from the same clean state without paying for a fresh interpreter and numpy.
The only modules of ours it loads are ``wire`` and ``confine``, by path.
"""

import errno
import importlib.util
import json
import os
import signal
import socket
import sys
import time
import traceback

import numpy  # noqa: F401  (imported once here, inherited by every fork)


def _load_sibling(name):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_grader_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wire = _load_sibling("wire")
confinement = _load_sibling("confine")
SERVER_MISSING = []  # layers the fork server itself could not apply (set in main)


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
    elif isinstance(error, OSError) and error.errno == errno.EFBIG:
        kind, text = "output", "OSError: File too large"
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


def _send(fd, message):
    data = wire.frame(message)
    while data:
        data = data[os.write(fd, data):]


def _serve(module, path, fd):
    while True:
        try:
            request = wire.receive(lambda n: os.read(fd, n))
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
        reply["changed"] = _changed(request, args, kwargs)
        _send(fd, reply)


def _changed(request, args, kwargs):
    """The arguments the call modified, by position or name, encoded as they are now."""
    changed = {}
    for key, value in [*enumerate(args), *kwargs.items()]:
        before = request["args"][key] if isinstance(key, int) else request["kwargs"][key]
        now = wire.to_plain(value)
        if now != before:
            changed[str(key)] = now
    return changed


def _confine(request):
    """In the forked child, before any student code: output file, then every layer."""
    os.chdir(request["scratch"])
    out = os.open("stdout.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return SERVER_MISSING + confinement.confine(request["scratch"], request["rlimits"],
                                                request["slot"])


def _run_submission(request, fd):
    """The forked child's whole life: load the file, then answer calls."""
    path = request["submission"]
    missing = _confine(request)
    try:
        module = _load_student(path)
    except BaseException as error:  # a broken file is a verdict, not a crash
        _send(fd, {**_fault(error, path), "unprotected": missing})
        return
    names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
    _send(fd, {"ready": names, "unprotected": missing})
    _serve(module, path, fd)


def _spawn(control, request, fd):
    pid = os.fork()
    if pid == 0:
        control.close()
        try:
            _run_submission(request, fd)
        finally:
            os._exit(0)
    os.close(fd)
    return {"pid": pid}


def _reap(pid, grace):
    """Give the process grace seconds to end by itself, then kill its group; its exit code.

    The group is killed before the process is reaped, so its id cannot have been reused.
    """
    deadline = time.monotonic() + grace
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    while os.waitid(os.P_PID, pid, flags) is None and time.monotonic() < deadline:
        time.sleep(0.002)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(pid, 0)
    return {"code": os.waitstatus_to_exitcode(status)}


def main():
    control = socket.socket(fileno=int(sys.argv[1]))
    confinement.LIBC.prctl(confinement.PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    SERVER_MISSING.extend(confinement.new_network_namespace())
    confinement.preload_standard_library()
    while True:
        data, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)  # one SOCK_SEQPACKET message
        if not data:
            return
        request = json.loads(data)
        if request["op"] == "spawn":
            reply = _spawn(control, request, fds[0])
        else:
            reply = _reap(request["pid"], request["grace"])
        control.send(json.dumps(reply).encode())


if __name__ == "__main__":
    main()
