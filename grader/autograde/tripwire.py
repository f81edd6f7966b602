"""A tripwire in the child that runs a submission: it flags reaching for the answer key.

The child holds none of the answer key (transformers, peft, the kit's checks, references and
solutions): its slate covers their files (see `grader.autograde.worker`). So no call can reach
it; what the tripwire watches is the attempt, which `kit grade` flags for review with its
route named, and which also stands guard where a slate could not cover everything:

- audit events from the student's code: opening files of those packages or of the kit's
  checks, `gc` searches, setting a profiler or tracer (`sys.setprofile`, `sys.settrace`),
  making code objects, compiling or `exec`-ing source, `ctypes`;
- a graded part that is that code (an alias, a subclass) when a probe asks for it.

It runs inside the process it watches: code that also forges its own result frame can still
get past it (see the README's isolation section).
"""

from __future__ import annotations

import os
import sys
import sysconfig
import types
from pathlib import Path

import torch

import grader
from grader import chapters
from grader.autograde.worker import ANSWER_PACKAGES, package_paths

GRADER = Path(grader.__file__).parent
ANSWER, CHECKS, LIBRARY, STUDENT = "answer", "checks", "library", "student"
AUDITED = {
    "open": "opened {0}",
    "gc.get_objects": "searched the garbage collector (gc.get_objects)",
    "gc.get_referrers": "searched the garbage collector (gc.get_referrers)",
    "gc.get_referents": "searched the garbage collector (gc.get_referents)",
    "sys.setprofile": "set a profiler (sys.setprofile)",
    "sys.settrace": "set a tracer (sys.settrace)",
    "sys.addaudithook": "added an audit hook",
    "code.__new__": "made a code object",
    "compile": "compiled source at run time",
    "exec": "ran code with exec",
    "ctypes.dlopen": "used ctypes",
    "ctypes.dlsym": "used ctypes",
    "ctypes.cdata": "used ctypes",
}
# Events whose culprit is the frame that raised them (dataclasses and namedtuple compile
# and exec on a student's behalf; the student's own call of `compile` or `exec` is direct).
DIRECT = {"compile", "exec"}
MAX_FLAGS = 5


def source_file(cls: type) -> str:
    """The file that defines a class ("" for built-in ones)."""
    return getattr(sys.modules.get(cls.__module__), "__file__", None) or ""


def full_path(path: str | bytes) -> str:
    """An absolute path, normalised only where it needs to be (this runs on every open)."""
    path = os.fsdecode(path)
    path = path if path.startswith("/") else os.path.join(os.getcwd(), path)
    return os.path.normpath(path) if ".." in path or "//" in path else path


def answer_roots() -> tuple[str, ...]:
    """Where the code that computes answers lives: the packages, the kit's checks and references."""
    roots = [path + os.sep for path in package_paths(ANSWER_PACKAGES)]
    roots += [str(GRADER / "reference.py"), str(GRADER / "checks") + os.sep]
    roots += [str(GRADER / "zoo") + os.sep, str(GRADER.parent / "solutions") + os.sep]
    return tuple(roots)


def attribute(value, name: str):
    """value.name, or None: a chapter's Impl answers a missing name with CheckFailed, not
    AttributeError, and an unwritten one is not the tripwire's business."""
    if isinstance(value, chapters.Impl):
        return None
    try:
        return getattr(value, name, None)
    except Exception:
        return None


class Tripwire:
    """Flags, by route, a submission that reaches for code that computes its answers."""

    def __init__(self) -> None:
        self.answers = answer_roots()
        self.checks = str(GRADER / "checks") + os.sep
        paths = sysconfig.get_paths()
        self.libraries = (paths["stdlib"], paths["platstdlib"], paths["purelib"], "<frozen")
        self.libraries += (str(Path(torch.__file__).parent.parent), str(GRADER), "<string>")
        self.kinds: dict[str, str] = {}
        self.flags: list[str] = []
        self.armed = False
        self.busy = False

    def kind(self, filename: str) -> str:
        """Whose code a file holds: answers, the checks, a library, or the student's."""
        found = self.kinds.get(filename)
        if found is None:
            if filename.startswith(self.checks):
                found = CHECKS
            elif filename.startswith(self.answers):
                found = ANSWER
            elif filename.startswith(self.libraries):
                found = LIBRARY
            else:
                found = STUDENT
            self.kinds[filename] = found
        return found

    def caller(self, frame: types.FrameType | None) -> str:
        """The kind of the nearest frame, from `frame` outwards, that is not a library's."""
        while frame is not None:
            kind = self.kind(frame.f_code.co_filename)
            if kind != LIBRARY:
                return kind
            frame = frame.f_back
        return LIBRARY

    def flag(self, route: str) -> None:
        """Record a route (once, and only the first few)."""
        if route not in self.flags and len(self.flags) < MAX_FLAGS:
            self.flags.append(route[:200])

    def check_part(self, name: str, value) -> None:
        """A graded part must not be the answer key's own code, aliased or subclassed."""
        code = attribute(value, "__code__")
        files = [code.co_filename] if isinstance(code, types.CodeType) else []
        if isinstance(value, type):
            files += [source_file(cls) for cls in value.__mro__]
        if any(self.kind(f) in (ANSWER, CHECKS) for f in files):
            self.flag(f"`{name}` is the kit's or Hugging Face's code ({value!r:.80})")

    def audit(self, event: str, args: tuple) -> None:
        """The audit hook: file opens, gc searches, code made at run time, by the student."""
        if event not in AUDITED or not self.armed or self.busy:
            return
        self.busy = True  # sys._getframe and open raise audit events of their own
        try:
            if event == "open":
                path = args[0]
                if not isinstance(path, str | bytes) or self.kind(full_path(path)) not in (
                    ANSWER,
                    CHECKS,
                ):
                    return
            frame = sys._getframe(1)
            kind = self.kind(frame.f_code.co_filename) if event in DIRECT else self.caller(frame)
            if kind == STUDENT:
                self.flag(AUDITED[event].format(*args))
        finally:
            self.busy = False

    def install(self) -> None:
        """Watch from now on: the audit hook, and every graded part a probe asks for."""
        getattr_ = chapters.Impl.__getattr__

        def part(impl, name):
            value = getattr_(impl, name)
            self.check_part(name, value)
            return value

        chapters.Impl.__getattr__ = part
        sys.addaudithook(self.audit)
        self.armed = True

    def disarm(self) -> None:
        """Stop watching (the student's code has finished)."""
        self.armed = False
