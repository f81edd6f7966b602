"""Where the chapters live, and how a learner's implementation is loaded and handed to checks."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.registry import CheckFailed

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
# In teaching order.
CHAPTERS = ("rmsnorm", "attention", "llama", "memory", "lora", "sampling", "generate", "tokenizer")
# A chapter imports the learner's earlier chapters by name (`from rmsnorm import RMSNorm`).
DEPENDENCIES = {
    "llama": ("rmsnorm", "attention"),
    "generate": ("attention", "llama", "sampling"),
    "tokenizer": ("llama", "generate"),
}


class Impl:
    """A learner's implementation of one chapter: a module or a notebook's namespace.

    Checks read names from it as attributes (`impl.RMSNorm`); a missing name fails the
    check with a message that says where the name was expected.
    """

    def __init__(self, namespace: MutableMapping[str, Any], origin: str, error: str | None = None):
        self._namespace = namespace
        self.origin = origin  # shown to the learner: "exercises/rmsnorm.py" or "the notebook"
        self.error = error  # why the implementation could not be loaded, if it could not

    def __getattr__(self, name: str) -> Any:
        if self.error is not None:
            raise CheckFailed(self.error)
        try:
            return self._namespace[name]
        except KeyError:
            raise CheckFailed(
                f"{self.origin} defines no `{name}`: did you rename or delete it?"
            ) from None

    @contextmanager
    def substituted(self, replacements: Mapping[str, Any]) -> Iterator[Impl]:
        """Temporarily bind names in the namespace, so that the learner's code uses them.

        The learner's functions look names up in this namespace when they run, so a class
        that calls `RMSNorm(...)` gets the replacement: this is how an item grades one part
        with every other part swapped for the reference.
        """
        if self.error is not None:
            raise CheckFailed(self.error)
        with bound(self._namespace, replacements):
            yield self


def display_path(path: Path) -> str:
    """A path relative to the working directory where possible, as a learner would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_chapter(directory: Path, chapter: str, patch: Path | None = None) -> Impl:
    """Import `<directory>/<chapter>.py` as a fresh module; errors become a one-line reason.

    `patch` is a file executed afterwards in the same namespace, as if the learner had re-run
    a cell with a changed definition: the bug zoo is made of such patches on the solutions.
    """
    path = Path(directory) / f"{chapter}.py"
    origin = display_path(path)
    if not path.is_file():
        return Impl({}, origin, error=f"{origin} does not exist")
    module = _fresh_module(path, chapter)
    try:
        with _earlier_chapters(Path(directory), chapter):
            module.__spec__.loader.exec_module(module)
        if patch is not None:
            exec(compile(patch.read_text(), str(patch), "exec"), vars(module))
    except Exception as error:  # the learner's file: any error is theirs to see, in one line
        sys.modules.pop(module.__name__, None)
        frame = traceback.extract_tb(error.__traceback__)[-1]
        line = error.lineno if isinstance(error, SyntaxError) else frame.lineno
        return Impl(
            {}, origin, error=f"{origin} could not be imported (line {line}): {one_line(error)}"
        )
    return Impl(vars(module), origin)


def _fresh_module(path: Path, chapter: str) -> ModuleType:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_kit_impl_{digest}_{chapter}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look modules up by name
    return module


@contextmanager
def _earlier_chapters(directory: Path, chapter: str) -> Iterator[None]:
    """Make `import rmsnorm` inside a chapter find the learner's file in the same folder.

    A dependency that is missing or does not import is replaced by the kit's reference
    (`grader.reference`), so that one broken chapter does not take the next one down with it.
    """
    modules = {}
    for name in DEPENDENCIES.get(chapter, ()):
        dependency = load_chapter(directory, name)
        if dependency.error is None:
            modules[name] = ModuleType(name)
            vars(modules[name]).update(dependency._namespace)
        else:
            modules[name] = importlib.import_module("grader.reference")
    with bound(sys.modules, modules):
        yield


@contextmanager
def bound(namespace: MutableMapping[str, Any], values: Mapping[str, Any]) -> Iterator[None]:
    """Bind names in a namespace for the duration, then restore (or remove) what was there."""
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def one_line(error: BaseException, limit: int = 160) -> str:
    """`TypeName: message` on one line, cut to `limit` characters."""
    text = " ".join(str(error).split())  # torch's messages span lines; keep them on one
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return message if len(message) <= limit else message[: limit - 1] + "…"
