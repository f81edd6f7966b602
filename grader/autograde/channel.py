"""Frames between the grader and its helper processes (the sandboxed worker, the parser).

A frame is a little-endian length, then that many bytes; a reader gives a limit and a deadline,
so that a helper that sends too much or nothing at all costs the grader one bounded wait. This
module imports nothing heavy: the parser starts in a fraction of a second.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import time
from pathlib import Path

HEADER = 8  # bytes of little-endian length before each frame
PR_SET_PDEATHSIG = 1
LIBC = ctypes.CDLL(None, use_errno=True)
# Environment of a helper process: nothing of the instructor's, no hub, one thread per child.
ENVIRONMENT = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


class ChannelClosed(EOFError):
    """The other side closed the channel, sent too much, or ran out of time."""


class TimedOut(ChannelClosed):
    """The deadline passed before the whole frame arrived."""


def read_frame(fd: int, limit: int, deadline: float | None = None) -> bytes:
    """One length-prefixed frame from a raw fd, within `limit` bytes and before `deadline`."""
    size = int.from_bytes(read_exact(fd, HEADER, deadline), "little")
    if size > limit:
        raise ChannelClosed(f"a frame of {size} bytes is over the limit of {limit}")
    return read_exact(fd, size, deadline)


def read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    """Exactly `size` bytes, or `ChannelClosed` (EOF), or `TimedOut` (the deadline passed)."""
    chunks, left = [], size
    while left:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            raise TimedOut("timed out")
        if not select.select([fd], [], [], wait)[0]:
            continue
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChannelClosed("the channel closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, body: bytes) -> None:
    """Write one length-prefixed frame to a raw fd."""
    view = memoryview(len(body).to_bytes(HEADER, "little") + body)
    while view:
        view = view[os.write(fd, view) :]


def joined(bodies: list[bytes]) -> bytes:
    """Frames, back to back, as one body (`split` takes them apart)."""
    return b"".join(len(body).to_bytes(HEADER, "little") + body for body in bodies)


def split(blob: bytes, count: int) -> list[bytes]:
    """The `count` frames of a `joined` body; ValueError if it holds anything else."""
    bodies, at = [], 0
    for _ in range(count):
        size = int.from_bytes(blob[at : at + HEADER], "little")
        at += HEADER
        if at + size > len(blob):
            raise ValueError("a frame runs past the end of the message")
        bodies.append(blob[at : at + size])
        at += size
    if at != len(blob):
        raise ValueError("bytes follow the last frame")
    return bodies


def take_channel() -> tuple[int, int]:
    """The grader's channel (requests, replies), moved off fds 0 and 1; die with the grader."""
    # A channel of its own, so that nothing printed reaches it.
    requests, replies = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader's death is ours
    return requests, replies


def mapped() -> int:
    """Bytes of address space this process maps now: the base of an RLIMIT_AS."""
    return int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
