"""Parse what students hand in, in a process of its own: a parser's failure costs one submission.

The JSON reader and `ast.parse` read text that a student wrote. In the grader, a crash of their
C code, an input that keeps them busy for minutes, or one that eats the memory would stop the
grading of everyone. `python -I -m grader.autograde.parse` parses under rlimits on memory and
CPU time; `Parser`, the grader's handle, gives each request a deadline and replaces the process
after a failure. Requests and replies are frames of JSON: no pickle. It imports only the
standard library (nbformat's validator alone takes seconds to import), so it starts at once.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time

from grader.autograde.channel import (
    ENVIRONMENT,
    ChannelClosed,
    TimedOut,
    mapped,
    read_frame,
    take_channel,
    write_frame,
)

DEADLINE = 30.0  # seconds of wall-clock time to parse one submission
CPU = 60  # seconds of CPU time per submission: a backstop for when no grader waits
MEMORY = 2 * 2**30  # bytes of address space above what the parser maps once started
STARTUP = 60.0  # seconds to start (a fraction of one, on an idle machine)
MAX_REPLY = 2**28  # bytes of a reply: the cells of a 20 MB notebook, even if all escaped
MAX_FLAGS = 20  # flags sent back: a reason shows only the first few of them
# Imports that hand a submission the answers: flagged for a human to look at.
FLAGGED_MODULES = ("transformers", "peft", "grader", "solutions")


def parse(suffix: str, text: str, allowed: frozenset[str]) -> dict:
    """A notebook's solution cells (a .py has none) and the flags of its code, as plain data."""
    cells = solution_cells(text) if suffix == ".ipynb" else {}
    scanned = cells.values() if suffix == ".ipynb" else [text]
    flags = [flag for code in scanned for flag in scan(code, allowed)]
    return {"cells": cells, "flags": flags[:MAX_FLAGS]}


def solution_cells(text: str) -> dict[str, str]:
    """grade_id -> source of each solution cell of a version 4 notebook (the first, if repeated).

    Plain JSON, read as nbformat writes it (a cell's source is a string or a list of strings);
    any other shape raises, which makes the submission unreadable.
    """
    notebook = json.loads(text)
    if not isinstance(notebook, dict) or notebook.get("nbformat") != 4:
        raise ValueError("not a version 4 notebook")
    cells = {}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and meta.get("solution") and meta.get("grade_id"):
            source = cell.get("source", "")
            cells.setdefault(str(meta["grade_id"]), "".join(source))
    return cells


def imports(code: str) -> list[tuple[str, int]]:
    """(module or module:name, line) of every import in the code, dynamic ones included."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(f"{node.module}:{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("__import__", "import_module"):
                found.append((str(node.args[0].value), node.lineno))
    return found


def scan(code: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Why a human should look at this code: imports of the libraries that hold the answers."""
    try:
        found = imports(code)
    except SyntaxError:
        return []  # importing it will fail, and say so
    return [
        f"imports {name.replace(':', '.')} (line {line})"
        for name, line in found
        if name.split(".")[0].split(":")[0] in FLAGGED_MODULES and name not in allowed
    ]


def main() -> None:
    """Answer requests until stdin closes: a header message, then the file's UTF-8 bytes."""
    requests, replies = take_channel()
    resource.setrlimit(resource.RLIMIT_AS, (mapped() + MEMORY,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    write_frame(replies, b"{}")  # ready
    while True:
        try:
            request = json.loads(read_frame(requests, 2**20))
            data = read_frame(requests, 2**30)
        except ChannelClosed:
            return
        # RLIMIT_CPU counts the process's whole life: each request may spend CPU seconds more.
        spent = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (int(spent) + CPU, hard))
        try:
            allowed = frozenset(request["allowed"])
            parsed = parse(request["suffix"], data.decode(), allowed)
            reply = json.dumps(parsed, ensure_ascii=False).encode()  # a lone surrogate raises
        except Exception as error:  # RecursionError, MemoryError, a malformed notebook: its own
            reply = json.dumps({"error": type(error).__name__}).encode()
        write_frame(replies, reply)


class Parser:
    """The grader's handle on a parser process: started when first needed, replaced on failure."""

    def __init__(self, deadline: float = DEADLINE):
        self.deadline = deadline
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Parser:
        return self

    def __exit__(self, *exception: object) -> None:
        self.stop()

    def parse(self, suffix: str, data: bytes, allowed: frozenset[str]) -> dict:
        """`parse`'s reply, `{"error": name}` if it raised, `{"failed": why}` if the process did."""
        if self.process is None:
            self.start()
        header = json.dumps({"suffix": suffix, "allowed": sorted(allowed)}).encode()
        try:
            write_frame(self.process.stdin.fileno(), header)
            write_frame(self.process.stdin.fileno(), data)
            reply = json.loads(self._receive(time.monotonic() + self.deadline))
        except (ChannelClosed, OSError, ValueError) as error:
            code = self.stop()  # a fresh process parses the next submission
            if isinstance(error, TimedOut):
                return {"failed": f"parsing it took more than {self.deadline:g} s"}
            if isinstance(error, ValueError):  # not JSON: never from a parser that runs right
                return {"failed": "parsing it failed (a reply that is not JSON)"}
            how = f"signal {-code}" if code < 0 else f"status {code}"
            return {"failed": f"parsing it crashed ({how})"}
        return reply

    def start(self) -> None:
        """Start the parser and wait until it is ready."""
        self.process = subprocess.Popen(
            (sys.executable, "-I", "-m", "grader.autograde.parse"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its process group is ours to kill
            env=ENVIRONMENT,  # nothing of the instructor's
        )
        try:
            self._receive(time.monotonic() + STARTUP)  # {}: ready
        except ChannelClosed as error:
            self.stop()
            raise RuntimeError(f"grader.autograde.parse did not start: {error}") from error

    def stop(self) -> int | None:
        """Kill the parser; its exit status (negative: the signal that ended it), if it ran."""
        if self.process is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        code, self.process = self.process.wait(), None
        return code

    def _receive(self, deadline: float) -> bytes:
        return read_frame(self.process.stdout.fileno(), MAX_REPLY, deadline)


if __name__ == "__main__":
    main()
