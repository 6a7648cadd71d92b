"""The untrusted side: a fork server, and the process that runs one student file.

Run as a script, ``python -I -u -B child.py CONTROL_FD``, by ``sandbox.Zygote``.
It imports numpy once, then waits for requests on the control socket. For each
submission it forks: the new process confines itself (confine.py) before it
opens anything in its scratch folder, runs the student's file (a .py file, or a
notebook's code cells one by one) and answers calls on its own socket until it
is killed. Its channel, its output file and the submission itself arrive as
file descriptors the grader opened, never as paths student code could change. The fork server never
loads student code, the reference or the tests, so every submission starts
from the same clean state without paying for a fresh interpreter and numpy.
The only modules of ours it loads are ``wire`` and ``confine``, by path.
"""

from __future__ import annotations

import errno
import functools
import importlib.util
import json
import mmap
import os
import re
import signal
import socket
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import numpy  # noqa: F401  (imported once here, inherited by every fork)


def _run_file(name: str, path: str, register: bool = False) -> types.ModuleType:
    """Run the Python file at path as the module name; with register, the module is in
    sys.modules while it runs, as an import would put it."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_sibling(name: str) -> types.ModuleType:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    return _run_file(f"_grader_{name}", path)


if TYPE_CHECKING:  # what the type checker reads; when run, they are loaded by path below
    from autograder import confine as confinement
    from autograder import wire
else:
    wire = _load_sibling("wire")
    confinement = _load_sibling("confine")
COPY_LIMIT = 64 * 1024 * 1024  # bytes of a submission copied (sandbox.SUBMISSION_LIMIT)
LINE_END = re.compile(r"\r\n|\r|\n")  # the line ends of Python's tokenizer


class Server:
    """What the fork server prepared once: its pid, the seccomp filter, missing layers."""

    def __init__(self, missing: list[str], rules: confinement.SeccompFilter | None) -> None:
        self.pid = os.getpid()
        self.missing = missing
        self.rules = rules


class NotebookError(Exception):
    """The notebook is not a readable nbformat 4 notebook."""


def _is_student_code(filename: str, path: str) -> bool:
    return filename == path or filename.startswith("code cell ")


def _where(error: BaseException, path: str, function: str | None = None) -> str | None:
    """Where in the student's code the error happened, in words, or None.

    function: the function under test; its own line comes first, and a helper
    it called is named after it (the mistake is often in the call).
    """
    if isinstance(error, SyntaxError) and _is_student_code(error.filename or "", path):
        return _line(error.filename, error.lineno, path)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if _is_student_code(f.filename, path)]
    if not frames:
        return None
    inner = frames[-1]
    own = [f for f in frames if f.name == function]
    if not own or own[-1] is inner:
        return _line(inner.filename, inner.lineno, path) + (
            f", in {inner.name}" if inner.name != "<module>" else "")
    helper = _line(inner.filename, inner.lineno, path)
    return (f"{_line(own[-1].filename, own[-1].lineno, path)}, in {function}, which "
            f"called {inner.name} (the error came up at {helper})")


def _line(filename: str | None, line: int | None, path: str) -> str:
    return f"line {line} of your file" if filename == path else f"line {line} of {filename}"


def _fault(error: BaseException, path: str, function: str | None = None) -> dict[str, Any]:
    """The reply for an error of student code: its kind, one of statuses.Fault's names
    (which sandbox._plain_reply reads: it cannot be imported here), and its message."""
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
    elif isinstance(error, Stalled):
        kind, text = "timeout", str(error)
    elif isinstance(error, NotebookError):
        kind, text = "notebook", str(error)
    else:
        kind, text = "error", f"{type(error).__name__}: {error}"
    return {"fault": kind, "message": text[:500], "where": _where(error, path, function)}


def _notebook_cells(path: str) -> list[tuple[int, Any]]:
    try:
        with open(path, encoding="utf-8") as handle:
            notebook = json.load(handle)
        cells = notebook["cells"]
        if notebook.get("nbformat") != 4 or not isinstance(cells, list):
            raise NotebookError("it is not in Jupyter's nbformat 4")
        code = [cell for cell in cells if cell.get("cell_type") == "code"]
        return [(number, cell["source"]) for number, cell in enumerate(code, 1)]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise NotebookError(f"it is not notebook JSON ({type(error).__name__})") from None


def _run_notebook(path: str, namespace: dict[str, Any]) -> list[str]:
    """Run the code cells in order; a cell that fails is a note, the others still run."""
    notes = []
    for number, source in _notebook_cells(path):
        text = "".join(source) if isinstance(source, list) else str(source)
        if text.lstrip().startswith(wire.NOT_RUN):
            continue
        lines = LINE_END.split(text)  # not str.splitlines(): Python's own line ends
        magics = [i for i, line in enumerate(lines) if line.lstrip().startswith(("%", "!"))]
        for i in magics:
            lines[i] = ""
        if magics:
            notes.append(f"code cell {number}: skipped {len(magics)} IPython magic or shell "
                         "line(s)")
        first = next((line.strip() for line in lines if line.strip()), "")[:60]
        try:
            exec(compile("\n".join(lines), f"code cell {number} (starting `{first}`)", "exec"),
                 namespace)
        except BaseException as error:  # one broken cell must not hide the others
            fault = _fault(error, path)
            notes.append(f"code cell {number} failed: {fault['message']}"
                         + (f" ({fault['where']})" if fault["where"] else ""))
    return notes


def _load_student(path: str, name: str) -> tuple[types.ModuleType, list[str]]:
    """Run the student's .py file or notebook as the module name (the course's student
    file without its suffix); notes on the way."""
    if path.endswith(".ipynb"):
        module = types.ModuleType(name)
        module.__file__ = path
        sys.modules[name] = module
        return module, _run_notebook(path, vars(module))
    return _run_file(name, path, register=True), []


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _send(fd: int, message: dict[str, Any]) -> None:
    _write_all(fd, wire.frame(message))


def _serve(module: types.ModuleType, path: str, fd: int, shared: mmap.mmap) -> None:
    """Answer calls until the grader closes the channel; shared: the arena, mapped."""
    view = wire.arena_view(shared)
    while True:
        try:
            request = wire.receive(lambda n: os.read(fd, n))
        except EOFError:
            return
        # a name the grader saw defined at loading; if the student's code removed it since,
        # calling None fails the call with a TypeError like any other error of theirs
        function: Any = getattr(module, request["function"], None)
        args = [wire.from_plain(a, view) for a in request["args"]]
        kwargs = {k: wire.from_plain(v, view) for k, v in request["kwargs"].items()}
        before = _encoded(args, kwargs)
        namespace = getattr(function, "__globals__", vars(module))
        saved = _swap_in(namespace, {**_raisers(request.get("stalled", {})),
                                     **_proxies(request.get("stand_ins", []), fd, shared)})
        reply: dict[str, Any]
        try:
            value = function(*args, **kwargs)
            reply = {"value": wire.to_plain(value)}
        except BaseException as error:  # the student's failure is the result
            reply = _fault(error, path, request["function"])
        finally:
            _restore(namespace, saved)
        now = _encoded(args, kwargs)
        reply["changed"] = {key: now[key] for key in now if now[key] != before[key]}
        _send(fd, reply)


_ABSENT = object()  # a name the student's module did not have before a stand-in


class StandInError(Exception):
    """The grader's function standing in for the student's could not answer."""


class Stalled(Exception):
    """A function of the student's that ran past the call limit in an earlier case, on
    its own code alone: it is not run again in this submission."""


def _raisers(stalled: dict[str, str]) -> dict[str, Any]:
    """For one call: a stalled function's stand-in, which fails at once."""
    return {name: functools.partial(_raise_stalled, f"{name} was not run again, because "
                                    f"in an earlier case it {text}")
            for name, text in stalled.items()}


def _raise_stalled(message: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise Stalled(message)


def _proxy(fd: int, name: str, shared: mmap.mmap, foreseen: dict[str, Any]) -> Callable[..., Any]:
    """A function that asks the grader for its reference's answer: plain data both ways,
    arrays in the arena's exchange half (shared, this process's map of it). An answer
    the grader sent ahead (foreseen, by wire.question_key, shared by the call's stand-ins)
    is taken without asking."""
    view = wire.arena_view(shared)

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        key = wire.question_key(name, args, kwargs) if foreseen else None
        if key in foreseen:
            return wire.from_plain(foreseen[key])
        place = wire.Exchange(lambda data, offset: shared.__setitem__(
            slice(offset, offset + len(data)), data)).place
        _send(fd, {"stand_in": name, "args": [wire.to_plain(a, place) for a in args],
                   "kwargs": {k: wire.to_plain(v, place) for k, v in kwargs.items()}})
        reply = wire.receive(lambda n: os.read(fd, n), containers=wire.MAX_MESSAGE)
        if "error" in reply:
            raise StandInError(reply["error"])
        foreseen.update((entry["key"], entry["value"]) for entry in reply.get("foreseen", ()))
        return wire.from_plain(reply["value"], lambda data: view(data).copy())

    stand_in.__name__ = stand_in.__qualname__ = name
    return stand_in


def _proxies(names: list[str], fd: int, shared: mmap.mmap) -> dict[str, Any]:
    """For one call: the proxies that stand in for names, sharing the answers sent ahead."""
    foreseen: dict[str, Any] = {}
    return {name: _proxy(fd, name, shared, foreseen) for name in names}


def _swap_in(namespace: dict[str, Any], replacements: dict[str, Any]) -> dict[str, Any]:
    """Put replacements into the student's module for one call; what they replaced."""
    saved = {name: namespace.get(name, _ABSENT) for name in replacements}
    namespace.update(replacements)
    return saved


def _restore(namespace: dict[str, Any], saved: dict[str, Any]) -> None:
    for name, value in saved.items():
        if value is _ABSENT:
            namespace.pop(name, None)
        else:
            namespace[name] = value


def _encoded(args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments as plain data, by position ("0", ...) or name."""
    return {**{str(i): wire.to_plain(a) for i, a in enumerate(args)},
            **{k: wire.to_plain(v) for k, v in kwargs.items()}}


def _redirect(output: int) -> None:
    """stdout and stderr go to the grader's own file; stdin is empty."""
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _copy_in(source: int, path: str) -> None:
    """Write the submission (an fd the grader opened) into the fresh scratch folder."""
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    offset = 0
    while offset < COPY_LIMIT:
        chunk = os.pread(source, 1 << 20, offset)
        if not chunk:
            break
        _write_all(target, chunk)
        offset += len(chunk)
    os.close(target)
    os.close(source)


def _confine(server: Server, request: dict[str, Any], output: int, source: int) -> list[str]:
    """In the forked child, before any student code: a new session, the grader's output
    file, a fresh private scratch folder holding only the submission, then every layer.

    Nothing here opens a name that student code could have made: the scratch
    folder is new (a tmpfs of this process's own where root allows), and the
    output file and the submission arrive as descriptors the grader opened.
    """
    os.setsid()
    confinement.die_with_parent()
    if os.getppid() != server.pid:  # the fork server ended before we could ask
        os._exit(1)
    _redirect(output)
    scratch = request["scratch"]
    missing = confinement.private_scratch(scratch, request["disk_mb"])
    os.chdir(scratch)
    _copy_in(source, request["name"])
    missing += confinement.confine(scratch, request["rlimits"], request["uid"], server.rules)
    return server.missing + missing


def _run_submission(server: Server, request: dict[str, Any], fds: list[int]) -> None:
    """The forked child's whole life: confine, load the file, then answer calls."""
    channel, output, source, arena = fds
    shared = mmap.mmap(arena, wire.Arena.SIZE)
    os.close(arena)
    _send(channel, {"confined": _confine(server, request, output, source)})  # before any
    path = os.path.join(request["scratch"], request["name"])              # student code
    try:
        module, notes = _load_student(path, request["module"])
    except BaseException as error:  # a broken file is a verdict, not a crash
        _send(channel, _fault(error, path))
        return
    names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
    _send(channel, {"ready": names, "notes": notes})
    _serve(module, path, channel, shared)


def _spawn(server: Server, control: socket.socket, request: dict[str, Any],
           fds: list[int]) -> dict[str, int]:
    pid = os.fork()
    if pid == 0:
        control.close()
        try:
            _run_submission(server, request, fds)
        finally:
            os._exit(0)
    for fd in fds:
        os.close(fd)
    return {"pid": pid}


def _reap(pid: int, grace: float) -> dict[str, Any]:
    """Give the process grace seconds to end by itself, then kill its group; its exit code,
    the CPU seconds it used in all (grace included, read when it is reaped) and whether it
    had ended before the kill.

    The group is killed before the process is reaped, so its id cannot have been reused.
    """
    deadline = time.monotonic() + grace
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    while (ended := os.waitid(os.P_PID, pid, flags)) is None and time.monotonic() < deadline:
        time.sleep(0.002)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status, usage = os.wait4(pid, 0)
    return {"code": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime,
            "ended": ended is not None}


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    confinement.die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = Server(confinement.new_network_namespace(), confinement.seccomp_filter())
    confinement.preload_standard_library()
    while True:
        data, fds, _, _ = socket.recv_fds(control, 1 << 16, 4)  # one SOCK_SEQPACKET message
        if not data:
            return
        request = json.loads(data)
        if request["op"] == "spawn":
            reply = _spawn(server, control, request, fds)
        else:
            reply = _reap(request["pid"], request["grace"])
        control.send(json.dumps(reply).encode())


if __name__ == "__main__":
    main()
