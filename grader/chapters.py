"""Where the chapters live, and how a learner's implementation is loaded and handed to checks."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader.registry import CheckFailed

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
CHAPTERS = ("rmsnorm",)  # in teaching order


class Impl:
    """A learner's implementation of one chapter: a module or a notebook's namespace.

    Checks read names from it as attributes (`impl.RMSNorm`); a missing name fails the
    check with a message that says where the name was expected.
    """

    def __init__(self, namespace: Mapping[str, Any], origin: str, error: str | None = None):
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


def display_path(path: Path) -> str:
    """A path relative to the working directory where possible, as a learner would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_chapter(directory: Path, chapter: str) -> Impl:
    """Import `<directory>/<chapter>.py` as a fresh module; errors become a one-line reason."""
    path = Path(directory) / f"{chapter}.py"
    origin = display_path(path)
    if not path.is_file():
        return Impl({}, origin, error=f"{origin} does not exist")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_kit_impl_{digest}_{chapter}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the learner's file: any error is theirs to see, in one line
        sys.modules.pop(name, None)
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f"line {error.lineno}" if isinstance(error, SyntaxError) else f"line {frame.lineno}"
        return Impl(
            {}, origin, error=f"{origin} could not be imported ({where}): {one_line(error)}"
        )
    return Impl(vars(module), origin)


def one_line(error: BaseException, limit: int = 160) -> str:
    """`TypeName: message` on one line, cut to `limit` characters."""
    text = " ".join(str(error).split())  # torch's messages span lines; keep them on one
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return message if len(message) <= limit else message[: limit - 1] + "…"
