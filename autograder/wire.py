"""Plain data across the process boundary, never pickle.

Values are encoded as JSON; arrays travel as their raw bytes (base64) with a
numeric dtype and a shape, checked on arrival, so an object array or a crafted
subclass cannot come back as anything but a plain ``np.ndarray`` of numbers. Messages are framed
with a 4-byte length so a student's prints (which go elsewhere) can never be
mistaken for a reply.
"""

from __future__ import annotations

import base64
import fcntl
import functools
import hashlib
import itertools
import json
import math
import mmap
import os
import struct
import types
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_MESSAGE = 64 * 1024 * 1024  # a request from the grader (trusted)
MAX_REPLY = 1024 * 1024  # a reply from student code: far above the largest honest one
MAX_CONTAINERS = 512  # JSON objects and arrays in one reply (an honest one has < 50)
MAX_ITEMS = 10_000  # items of one list, tuple or dict (an honest one has < 2,000)
MAX_AXES = 32  # numpy's own limit on the axes of an array


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
        if array.dtype.kind not in "biufc":
            return {"type": "unreadable", "name": f"array of {array.dtype}"}
        shared = place(array) if place and isinstance(value, np.ndarray) else None
        return shared or _array_plain(array)
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (int, float)):  # a subclass: its number, as float() or int() reads it
        return float(value) if isinstance(value, float) else int(value)
    if type(value) in (list, tuple):
        return {"type": type(value).__name__, "items": [to_plain(v, place) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"type": "dict", "items": {k: to_plain(v, place) for k, v in value.items()}}
    return {"type": "unreadable", "name": type(value).__name__}


def from_plain(data: Any,
               view: Callable[[dict], np.ndarray | Unreadable] | None = None) -> Any:
    """Decode what to_plain produced into ndarrays, numbers, strings and containers.

    view: the array a shared description names: in the student's process, over the
    arena's pages; in the grader, only for a stand-in's question (Arena.read, which
    copies from the exchange half). A reply to a call can never name the arena.
    """
    if isinstance(data, list):  # to_plain tags every list: a bare one is forged
        return Unreadable("list sent without its type")
    if not isinstance(data, dict):
        return data
    kind = data.get("type")
    if kind == "ndarray":
        return _array(data)
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
    EXCHANGE = SIZE // 2  # from here on: the arrays of stand-in questions and answers

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
        plain = {key: to_plain(value, functools.partial(self._place, key))
                 for key, value in _keyed(args, kwargs)}
        return ([plain[str(i)] for i in range(len(args))],
                {k: plain[k] for k in kwargs})

    def _place(self, key: str, array: np.ndarray) -> dict | None:
        """Write array into the arena for argument key; its description, or None."""
        if array.dtype.kind not in "biufc" or self.used + array.nbytes > self.EXCHANGE:
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

    def exchange(self) -> Exchange:
        """Where the grader writes the arrays of one answer to a stand-in's question."""
        return Exchange(lambda data, offset: os.pwrite(self.fd, data, offset))

    def read(self, data: dict) -> np.ndarray | Unreadable:
        """A copy of an array a stand-in's question placed in the exchange half; its
        description comes from student code, so it is checked first."""
        described = describe_array(data)
        if isinstance(described, Unreadable):
            return described
        dtype, shape, size = described
        offset = data["offset"]
        if type(offset) is not int or not self.EXCHANGE <= offset <= self.SIZE - size:
            raise ValueError("an array lies outside the exchange")
        return np.frombuffer(os.pread(self.fd, size, offset), dtype).reshape(shape).copy()

    def close(self) -> None:
        os.close(self.fd)


class Exchange:
    """Places the arrays of one stand-in question or answer in the arena's exchange half
    (each side writes its own way: the grader with pwrite, student code in its mmap)."""

    def __init__(self, write: Callable[[bytes, int], Any]):
        self.write = write
        self.used = Arena.EXCHANGE

    def place(self, array: np.ndarray) -> dict | None:
        if array.dtype.kind not in "biufc" or self.used + array.nbytes > Arena.SIZE:
            return None
        data = np.ascontiguousarray(array).tobytes()
        self.write(data, self.used)
        description = {"type": "shared", "offset": self.used, "dtype": array.dtype.str,
                       "shape": list(array.shape)}
        self.used += -(-len(data) // 64) * 64
        return description


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


def _numeric_dtypes() -> types.MappingProxyType[str, np.dtype]:
    """Every dtype of numbers and booleans by the name dtype.str writes ("<f8", "|b1")."""
    found = {}
    for name in itertools.product("<>|", "biufc", map(str, range(1, 33))):
        try:
            dtype = np.dtype("".join(name))
        except TypeError:
            continue
        found[dtype.str] = dtype
        swapped = dtype.newbyteorder()
        found[swapped.str] = swapped
    return types.MappingProxyType(found)


_DTYPES = _numeric_dtypes()


def _array_plain(array: np.ndarray) -> dict:
    """A numeric array inline: its dtype, shape and raw bytes (base64)."""
    data = np.ascontiguousarray(array).tobytes()
    return {"type": "ndarray", "dtype": array.dtype.str, "shape": list(array.shape),
            "data": base64.b64encode(data).decode("ascii")}


def describe_array(data: dict) -> tuple[np.dtype, list[int], int] | Unreadable:
    """An untrusted array description's dtype, shape and size in bytes. Anything but
    numbers and booleans (strings, records, objects, zero-size items that could stand
    for billions of elements) is not an answer here: Unreadable."""
    dtype_name, shape = data["dtype"], data["shape"]
    dtype = _DTYPES.get(dtype_name) if type(dtype_name) is str else None
    if dtype is None:
        return Unreadable(f"array of {str(dtype_name)[:40]}")
    if type(shape) is not list or len(shape) > MAX_AXES:
        raise ValueError("an array's shape is not a short list of sizes")
    for n in shape:
        if type(n) is not int or not 0 <= n <= MAX_REPLY * 8:
            raise ValueError("an array's shape is not a short list of sizes")
    return dtype, shape, math.prod(shape) * dtype.itemsize


def _array(data: dict) -> np.ndarray | Unreadable:
    """The array _array_plain described (checked by describe_array); ValueError if the bytes
    do not fit the shape."""
    described = describe_array(data)
    if isinstance(described, Unreadable):
        return described
    dtype, shape, size = described
    raw = base64.b64decode(data["data"])
    if len(raw) != size:
        raise ValueError("an array's bytes do not fit its shape")
    return np.frombuffer(raw, dtype).reshape(shape).copy()


def question_key(name: str, args: tuple | list, kwargs: dict) -> str | None:
    """Names a stand-in's question by its values, as the grader computes with them (arrays
    in float64): the same on both sides, so an answer the grader sent ahead is found by
    the question it answers. None for a question the grader would not take."""
    digest = hashlib.blake2b(name.encode() + b"\0", digest_size=16)
    if not all(_feed(digest, item) for item in args):
        return None
    return digest.hexdigest() if _feed_named(digest, kwargs) else None


def _feed_named(digest: Any, items: dict) -> bool:
    if not all(type(key) is str for key in items):
        return False
    digest.update(b"{%d" % len(items))
    for key in sorted(items):
        digest.update(b"=" + key.encode() + b"\0")
        if not _feed(digest, items[key]):
            return False
    return True


def _feed(digest: Any, value: Any) -> bool:
    if type(value) is dict:
        return _feed_named(digest, value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.itemsize <= 8:
        digest.update(b"A" + repr(value.shape).encode())
        digest.update(np.ascontiguousarray(value, dtype=np.float64).tobytes())
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        digest.update(b"N" + float(value).hex().encode())
        return True
    return False


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


def _parse(body: bytes, containers: int) -> dict:
    """json.loads with bounded work: the body's size is already limited, and the
    number of containers (hence the depth) is counted before parsing; brackets
    inside strings count too, which only makes the bound stricter."""
    if body.count(b"{") + body.count(b"[") > containers:
        raise ValueError(f"message has more than {containers} objects or arrays")
    try:
        message = json.loads(body)
    except RecursionError:
        raise ValueError("message is nested too deeply") from None
    if not isinstance(message, dict):
        raise ValueError("message is not a JSON object")
    return message


def receive(read: Callable[[int], bytes], limit: int = MAX_MESSAGE,
            containers: int = MAX_CONTAINERS) -> dict:
    """Read one framed JSON message of at most limit bytes and containers objects and
    arrays with read(n) (the student's process reads the grader's messages, which it
    trusts, with higher limits).

    EOFError if the other side is gone, TooLarge before reading a body over
    the limit, ValueError if the body is not a plain JSON object.
    """
    (size,) = struct.unpack(">I", _read_exactly(read, 4))
    if size > limit:
        raise TooLarge(f"{size} bytes; the limit is {limit}")
    return _parse(_read_exactly(read, size), containers)
