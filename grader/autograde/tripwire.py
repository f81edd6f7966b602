"""A tripwire in the child that runs a submission: it flags reaching for the answer key.

For a chapter that is not clean yet (see `grader.autograde.worker`), the child has
transformers, peft and the kit's checks and references loaded (the probes need them), so a
submission can find them without an `import`: `nn.Module.__subclasses__()`, `sys.modules[...]`,
`gc`, reading their installed files. The tripwire does not stop that; it names the route, and
`kit grade` flags the submission for review. In a clean chapter's child none of it is loaded,
so only the audit hook and the import guards run: loading the answer key is what they flag,
where the slate could not cover its files. It watches:

- calls from the student's code into that code (a profile hook on every thread, from the
  end of the submission's import: a loop at import pays only for the audit hook), except
  the parts the kit lends: what the probes bind into the submission's namespace, what they
  pass to its functions, what it imports by name from the reference that stands in for an
  earlier chapter, and Hugging Face's config classes;
- a graded part that is that code (an alias, a subclass) when a probe asks for it;
- audit events from the student's code: opening files of those packages, `gc` searches,
  removing the hook, making code objects, compiling or `exec`-ing source, `ctypes`;
- direct calls of `__import__`, `importlib.import_module` of those packages,
  `type.__subclasses__`, methods of `sys.modules`, and `_thread.start_new_thread`.

It runs inside the process it watches: code that also forges its own result frame can still
get past it (see the README's isolation section).
"""

from __future__ import annotations

import _thread
import builtins
import functools
import importlib
import os
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch

import grader
from grader import chapters
from grader.autograde.worker import ANSWER_PACKAGES, package_paths

GRADER = Path(grader.__file__).parent
# Files of those packages a student may call: config classes and the lazy `from transformers
# import LlamaConfig` (they hold no answer).
HARMLESS = ("configuration_utils.py", "configuration_llama.py", "import_utils.py")
# LENT: those harmless files; a call they make on the student's behalf is theirs, not the student's.
ANSWER, CHECKS, LENT, LIBRARY, STUDENT = "answer", "checks", "lent", "library", "student"
AUDITED = {
    "open": "opened {0}",
    "gc.get_objects": "searched the garbage collector (gc.get_objects)",
    "gc.get_referrers": "searched the garbage collector (gc.get_referrers)",
    "gc.get_referents": "searched the garbage collector (gc.get_referents)",
    "sys.setprofile": "replaced the tripwire (sys.setprofile)",
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


def made_by_a_probe(code: types.CodeType, kind: str) -> bool:
    """A closure a check made while probing (a forward hook on the student's modules): the
    student reaches it only through what the probe handed over, and it computes no answer."""
    return kind == CHECKS and "<locals>" in code.co_qualname


class Tripwire:
    """Flags, by route, a submission that reaches for code that computes its answers."""

    def __init__(self) -> None:
        self.answers = answer_roots()
        self.checks = str(GRADER / "checks") + os.sep
        paths = sysconfig.get_paths()
        self.libraries = (paths["stdlib"], paths["platstdlib"], paths["purelib"], "<frozen")
        self.libraries += (str(Path(torch.__file__).parent.parent), str(GRADER), "<string>")
        self.kinds: dict[str, str] = {}
        self.lent: set[types.CodeType] = set()  # code the kit lends the submission
        self.lent_objects: dict[int, object] = {}  # kept alive, so that their ids stay theirs
        self.lent_classes: set[type] = set()
        self.lent_modules: list[types.ModuleType] = []
        self.flags: list[str] = []
        self.armed = False
        self.busy = False
        self.watched = {
            id(builtins.__import__): "called __import__",
            id(_thread.start_new_thread): "started a thread the tripwire cannot watch",
        }

    def kind(self, filename: str) -> str:
        """Whose code a file holds: answers, the checks, a library, or the student's."""
        found = self.kinds.get(filename)
        if found is None:
            if filename.startswith(self.checks):
                found = CHECKS
            elif filename.startswith(self.answers):
                found = LENT if filename.endswith(HARMLESS) else ANSWER
            elif filename.startswith(self.libraries):
                found = LIBRARY
            else:
                found = STUDENT
            self.kinds[filename] = found
        return found

    def caller(self, frame: types.FrameType | None) -> str:
        """The kind of the nearest frame, from `frame` outwards, that is not a library's."""
        while frame is not None:
            filename = frame.f_code.co_filename
            kind = self.kind(filename)
            if kind != LIBRARY:
                return kind
            if filename == "<string>":  # a dataclass's generated method acts for its class
                owner = type(frame.f_locals.get("self"))
                if self.kind(source_file(owner)) == LENT:
                    return LENT
            frame = frame.f_back
        return LIBRARY

    def config_method(self, frame: types.FrameType) -> bool:
        """A method that a config class inherits (LlamaConfig's validate_rope, run by the
        strict dataclass's validators when the student builds a config): it holds no answer."""
        owner = type(frame.f_locals.get("self"))
        return self.kind(source_file(owner)) == LENT

    def flag(self, route: str) -> None:
        """Record a route (once, and only the first few)."""
        if route not in self.flags and len(self.flags) < MAX_FLAGS:
            self.flags.append(route[:200])

    def lend(self, values: Iterable) -> None:
        """Let the student's code call these objects (and their classes' methods)."""
        for value in values:
            if isinstance(value, types.ModuleType):
                if value not in self.lent_modules:
                    self.lent_modules.append(value)
            elif isinstance(value, types.FunctionType | types.MethodType | functools.partial):
                function = getattr(value, "func", None) or getattr(value, "__func__", value)
                if id(function) in self.lent_objects:
                    continue
                self.lent_objects[id(function)] = function
                self.lend_code(function)
                # What a lent closure made its results from is lent with it (the class a
                # lent `inject_lora` wraps layers in: the student calls their methods).
                cells = getattr(function, "__closure__", None) or ()
                self.lend(c.cell_contents for c in cells if self.is_kits(c))
            else:
                cls = value if isinstance(value, type) else type(value)
                if isinstance(value, torch.nn.Module) and self.kind(source_file(cls)) in (
                    ANSWER,
                    CHECKS,
                ):  # a model the kit hands over is lent whole: its layers are HF's modules
                    self.lend(m for m in value.modules() if m is not value)
                if cls in self.lent_classes:
                    continue
                self.lent_classes.add(cls)
                self.lent_objects[id(cls)] = cls
                for base in cls.__mro__:
                    if self.kind(source_file(base)) in (ANSWER, CHECKS):
                        for member in vars(base).values():
                            self.lend_code(member)

    def is_kits(self, cell: types.CellType) -> bool:
        """A closure cell holding a class or function of the kit's or HF's (not the student's
        own: a closure around the student's class lends nothing)."""
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            return False
        if isinstance(value, type):
            return self.kind(source_file(value)) in (ANSWER, CHECKS)
        code = attribute(value, "__code__")
        return isinstance(code, types.CodeType) and self.kind(code.co_filename) in (ANSWER, CHECKS)

    def lend_code(self, member) -> None:
        """Add the code of a function, method, property or wrapper to what is lent."""
        inner = attribute(member, "__wrapped__")  # under a decorator (@torch.no_grad())
        for part in (member, inner, attribute(member, "__func__"), attribute(member, "fget")):
            code = attribute(part, "__code__")
            if isinstance(code, types.CodeType):
                self.lent.add(code)

    def lend_imports(self, namespace: Mapping) -> None:
        """What the submission imported by name from a reference standing in for a chapter."""
        for module in list(self.lent_modules):
            self.lend(
                v
                for k, v in namespace.items()
                if getattr(module, k, None) is v and not isinstance(v, types.ModuleType)
            )

    def check_part(self, name: str, value) -> None:
        """A graded part must not be the answer key's own code, aliased or subclassed."""
        if id(value) in self.lent_objects:
            return
        code = attribute(value, "__code__")
        files = [code.co_filename] if isinstance(code, types.CodeType) else []
        if isinstance(value, type):
            files += [source_file(cls) for cls in value.__mro__]
        if any(self.kind(f) in (ANSWER, CHECKS) for f in files):
            self.flag(f"`{name}` is the kit's or Hugging Face's code ({value!r:.80})")

    def profiler(self) -> Callable[[types.FrameType, str, object], None]:
        """The profile hook: calls into answer code, and watched builtins, from the student.

        It runs on every call and return of every function, C ones included, so it is written
        for speed: names bound as locals, the rare cases tested first, nothing done on returns.
        """
        kinds, kind_of, lent, watched, modules = (
            self.kinds,
            self.kind,
            self.lent,
            self.watched,
            sys.modules,
        )
        import_module = importlib.import_module.__code__

        def profile(frame: types.FrameType, event: str, arg) -> None:
            if event == "c_call":
                # From the student's code: a watched builtin, sys.modules' or __subclasses__?
                filename = frame.f_code.co_filename
                if (kinds.get(filename) or kind_of(filename)) != STUDENT:
                    return
                if id(arg) in watched:
                    self.flag(watched[id(arg)])
                elif getattr(arg, "__self__", None) is modules:
                    self.flag("looked into sys.modules")
                elif getattr(arg, "__name__", None) == "__subclasses__":
                    self.flag("searched subclasses (__subclasses__)")
            elif event == "call":
                code = frame.f_code
                kind = kinds.get(code.co_filename) or kind_of(code.co_filename)
                if kind == LIBRARY:
                    if code is import_module:
                        name = str(frame.f_locals.get("name"))
                        answer = name.startswith((*ANSWER_PACKAGES, "grader"))
                        if answer and self.caller(frame.f_back) == STUDENT:
                            self.flag(f"imported {name} with importlib")
                elif kind == STUDENT:
                    if self.caller(frame.f_back) == CHECKS:  # a probe calls the student: it lends
                        self.lend(frame.f_locals.values())
                elif (
                    kind != LENT
                    and code not in lent
                    and not made_by_a_probe(code, kind)
                    and self.caller(frame.f_back) == STUDENT
                    and not self.config_method(frame)
                ):
                    self.flag(f"called {code.co_qualname} ({code.co_filename}) from its code")

        return profile

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
        """Watch from now on: the audit hook, and the kit's binding of lent parts and names."""
        bind, getattr_ = chapters.bound, chapters.Impl.__getattr__

        def bound(namespace, values):
            self.lend(values.values())
            return bind(namespace, values)

        def part(impl, name):
            value = getattr_(impl, name)
            self.check_part(name, value)
            return value

        chapters.bound, chapters.Impl.__getattr__ = bound, part
        sys.addaudithook(self.audit)
        self.armed = True

    def profile_calls(self) -> None:
        """Profile every call from now on (after the import: at import, only audit events)."""
        profile = self.profiler()
        threading.setprofile(profile)
        sys.setprofile(profile)

    def disarm(self) -> None:
        """Stop watching (the student's code has finished)."""
        self.armed = False
        sys.setprofile(None)
        threading.setprofile(None)
