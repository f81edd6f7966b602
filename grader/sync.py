"""Generate exercises/ from solutions/ with nbgrader's ClearSolutions and jupytext."""

from __future__ import annotations

import difflib
from pathlib import Path

import jupytext
from nbformat import NotebookNode

from grader.chapters import CHAPTERS, EXERCISES, SOLUTIONS


def read_chapter(path: Path) -> NotebookNode:
    """A py:percent chapter as a notebook, without jupytext's own metadata."""
    notebook = jupytext.read(path, fmt="py:percent")
    notebook.metadata.pop("jupytext", None)
    return notebook


def clear_solutions(notebook: NotebookNode) -> NotebookNode:
    """nbgrader's ClearSolutions: every `### BEGIN SOLUTION` region becomes the stub."""
    from nbgrader.preprocessors import ClearSolutions

    cleared, _ = ClearSolutions().preprocess(notebook, {"language": "python"})
    return cleared


def exercise_text(solution: Path) -> str:
    """What exercises/<chapter>.py must contain for this solution file."""
    return jupytext.writes(clear_solutions(read_chapter(solution)), fmt="py:percent")


def sync(
    solutions: Path = SOLUTIONS, exercises: Path = EXERCISES, write: bool = False
) -> dict[str, str]:
    """Compare (or, with `write`, regenerate) every exercise; returns a diff per drifted file."""
    drift = {}
    for chapter in CHAPTERS:
        target = exercises / f"{chapter}.py"
        wanted = exercise_text(solutions / f"{chapter}.py")
        current = target.read_text() if target.exists() else ""
        if current == wanted:
            continue
        if write:
            target.write_text(wanted)
        else:
            drift[chapter] = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    f"{target} (on disk)",
                    f"{target} (generated)",
                )
            )
    return drift
