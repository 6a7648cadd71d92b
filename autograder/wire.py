"""Plain data across the process boundary, never pickle.

Values are encoded as JSON; arrays travel as ``.npy`` bytes (base64) and are
loaded with ``allow_pickle=False``, so an object array or a crafted subclass
cannot come back as anything but a plain ``np.ndarray``. Messages are framed
with a 4-byte length so a student's prints (which go elsewhere) can never be
mistaken for a reply.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import mmap
import os
import re
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_MESSAGE = 64 * 1024 * 1024  # a request from the grader (trusted)
MAX_REPLY = 1024 * 1024  # a reply from student code: far above the largest honest one
MAX_CONTAINERS = 512  # JSON objects and arrays in one reply (an honest one has < 50)
MAX_ITEMS = 10_000  # items of one list, tuple or dict (an honest one has < 2,000)


class TooLarge(ValueError):
    """A message over its size limit: refused before it is read."""


NOT_RUN = "# (not run when graded)"  # first line of a notebook's check and demo cells


class Unreadable:
    """Stands for a value that is not plain data (its type's name is kept)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<a {self.type_name} object>"


def to_plain(value: Any, place: Callable[[np.ndarray], dict | None] | None = None) -> Any:
    """Encode a value as JSON-ready data; anything unknown becomes a tagged type name.

    place: puts a numeric array in the shared arena and describes where (or
    returns None when it does not fit); without it, arrays travel inline.
    """
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.hasobject:
            return {"type": "unreadable", "name": "object array"}
        shared = place(array) if place and isinstance(value, np.ndarray) else None
        return shared or {"type": "ndarray",
                          "npy": base64.b64encode(_npy_bytes(array)).decode("ascii")}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) in (list, tuple):
        return {"type": type(value).__name__, "items": [to_plain(v, place) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"type": "dict", "items": {k: to_plain(v, place) for k, v in value.items()}}
    return {"type": "unreadable", "name": type(value).__name__}


def from_plain(data: Any, view: Callable[[dict], np.ndarray] | None = None) -> Any:
    """Decode what to_plain produced into ndarrays, numbers, strings and containers.

    view: (in the student's process only) the array a shared description names;
    the grader never passes it, so a reply can never name the arena.
    """
    if isinstance(data, list):  # to_plain tags every list: a bare one is forged
        return Unreadable("list sent without its type")
    if not isinstance(data, dict):
        return data
    kind = data.get("type")
    if kind == "ndarray":
        return _load_npy(base64.b64decode(data["npy"]))
    if kind == "shared" and view is not None:
        return view(data)
    if kind in ("list", "tuple", "dict") and len(data["items"]) > MAX_ITEMS:
        return Unreadable(f"{kind} of {len(data['items'])} items")
    if kind in ("list", "tuple"):
        items = [from_plain(v, view) for v in data["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {str(k): from_plain(v, view) for k, v in data["items"].items()}
    return Unreadable(str(data.get("name", "unknown")))


class Arena:
    """The grader's side of a file shared with student code for array arguments.

    The grader writes each call's numeric arrays into it; student code gets
    arrays over the same pages (mmap). Whatever the student's function changes
    in place, the grader reads back itself afterwards, so no report from the
    student's process is needed to see it. The grader only reads with pread,
    never maps the file, so nothing the student does to it can crash the grader.
    """

    SIZE = 16 * 1024 * 1024

    def __init__(self) -> None:
        self.fd = os.memfd_create("arena", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        os.ftruncate(self.fd, self.SIZE)
        fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        self.placed: list[tuple[str, np.ndarray, int, bytes]] = []
        self.used = 0

    def encode(self, args: tuple, kwargs: dict) -> tuple[list, dict]:
        """One call's arguments as plain data, their numeric arrays in the arena."""
        self.placed, self.used = [], 0
        plain = {key: to_plain(value, lambda array, key=key: self._place(key, array))
                 for key, value in _keyed(args, kwargs)}
        return ([plain[str(i)] for i in range(len(args))],
                {k: plain[k] for k in kwargs})

    def _place(self, key: str, array: np.ndarray) -> dict | None:
        """Write array into the arena for argument key; its description, or None."""
        if array.dtype.kind not in "biufc" or self.used + array.nbytes > self.SIZE:
            return None
        data = np.ascontiguousarray(array).tobytes()
        offset = self.used
        os.pwrite(self.fd, data, offset)
        self.used += -(-len(data) // 64) * 64  # keep every array aligned
        self.placed.append((key, array, offset, data))
        return {"type": "shared", "offset": offset, "dtype": array.dtype.str,
                "shape": list(array.shape)}

    def changed(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """The arguments of the last call whose arrays student code changed in place,
        rebuilt with the arena's contents, by position ("0", ...) or name."""
        now: dict[int, np.ndarray] = {}
        for _, array, offset, data in self.placed:
            after = os.pread(self.fd, len(data), offset).ljust(len(data), b"\0")
            if after != data:
                now[id(array)] = np.frombuffer(after, array.dtype).reshape(array.shape).copy()
        keys = {key for key, array, _, _ in self.placed if id(array) in now}
        return {key: _replaced(value, now) for key, value in _keyed(args, kwargs)
                if key in keys}

    def close(self) -> None:
        os.close(self.fd)


def _keyed(args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    return [*((str(i), value) for i, value in enumerate(args)), *kwargs.items()]


def _replaced(value: Any, arrays: dict[int, np.ndarray]) -> Any:
    """A copy of value's containers with the arrays whose ids are in arrays replaced."""
    if isinstance(value, np.ndarray):
        return arrays.get(id(value), value)
    if isinstance(value, dict):
        return {k: _replaced(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_replaced(v, arrays) for v in value)
    return value


def arena_view(arena: mmap.mmap) -> Callable[[dict], np.ndarray]:
    """(student's process) Arrays over the shared pages, from their descriptions."""

    def view(data: dict) -> np.ndarray:
        return np.ndarray(tuple(data["shape"]), np.dtype(data["dtype"]), arena,
                          data["offset"])

    return view


_HEADER = re.compile(
    rb"\{'descr': '([<>|][biufc]\d{1,2})', 'fortran_order': False, "
    rb"'shape': \(((?:\d+, )*(?:\d+,?)?)\), \}\s*\n"
)


def _npy_bytes(array: np.ndarray) -> bytes:
    """The .npy file np.save would write; numeric arrays skip np.save's slower path."""
    array = np.asarray(array, order="C")
    if array.dtype.kind not in "biufc":
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    shape = array.shape
    header = f"{{'descr': '{array.dtype.str}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    prefix = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little")
    return prefix + header.encode() + array.tobytes()


def _load_npy(raw: bytes) -> np.ndarray | Unreadable:
    """np.load(allow_pickle=False), with a fast path for the headers np.save writes.

    np.load parses every header with ast.literal_eval (about 0.1 ms); a strict
    match of the usual header, for numeric dtypes only, gives the same array.
    Anything but numbers and booleans (strings, records, zero-size items that
    could stand for billions of elements) is not an answer here: Unreadable.
    """
    if raw[:8] == b"\x93NUMPY\x01\x00":
        size = int.from_bytes(raw[8:10], "little")
        match = _HEADER.fullmatch(raw[10:10 + size])
        if match:
            shape = tuple(int(n) for n in match.group(2).split(b",") if n.strip())
            dtype = np.dtype(match.group(1).decode())
            return np.frombuffer(raw, dtype, offset=10 + size).reshape(shape).copy()
    array = np.load(io.BytesIO(raw), allow_pickle=False, mmap_mode=None)
    if array.dtype.kind not in "biufc" or array.dtype.itemsize == 0:
        return Unreadable(f"array of {array.dtype}")
    return array


def frame(message: dict) -> bytes:
    """One message as bytes to send: a 4-byte length, then JSON."""
    body = json.dumps(message).encode("utf-8")
    return struct.pack(">I", len(body)) + body


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes:
    chunks = []
    while size:
        chunk = read(min(size, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def reply_limit(request_size: int) -> int:
    """The most a reply may hold: a value plus the changed arguments echoed back."""
    return MAX_REPLY + 2 * request_size


def _parse(body: bytes) -> dict:
    """json.loads with bounded work: the body's size is already limited, and the
    number of containers (hence the depth) is counted before parsing; brackets
    inside strings count too, which only makes the bound stricter."""
    if body.count(b"{") + body.count(b"[") > MAX_CONTAINERS:
        raise ValueError(f"message has more than {MAX_CONTAINERS} objects or arrays")
    try:
        message = json.loads(body)
    except RecursionError:
        raise ValueError("message is nested too deeply") from None
    if not isinstance(message, dict):
        raise ValueError("message is not a JSON object")
    return message


def receive(read: Callable[[int], bytes], limit: int = MAX_MESSAGE) -> dict:
    """Read one framed JSON message of at most limit bytes with read(n).

    EOFError if the other side is gone, TooLarge before reading a body over
    the limit, ValueError if the body is not a plain JSON object.
    """
    (size,) = struct.unpack(">I", _read_exactly(read, 4))
    if size > limit:
        raise TooLarge(f"{size} bytes; the limit is {limit}")
    return _parse(_read_exactly(read, size))
