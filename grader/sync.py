"""Generate exercises/ from solutions/ with nbgrader's ClearSolutions and jupytext."""

from __future__ import annotations

import difflib
import hashlib
import json
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


MANIFEST = ".kit-sync.json"  # what the last `kit sync` wrote, by sha256, next to the files


def digest(text: str) -> str:
    """The sha256 of a text, as the manifest stores it."""
    return hashlib.sha256(text.encode()).hexdigest()


def sync(
    solutions: Path = SOLUTIONS,
    exercises: Path = EXERCISES,
    write: bool = False,
    force: bool = False,
) -> dict[str, str]:
    """Compare (or, with `write`, regenerate) every exercise; returns a diff per drifted file.

    With `write`, a file that differs from what the previous generation wrote (a learner's
    work) is kept unless `force`: the returned diffs are then those of the files kept.
    """
    manifest_path = exercises / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    drift = {}
    for chapter in CHAPTERS:
        target = exercises / f"{chapter}.py"
        wanted = exercise_text(solutions / f"{chapter}.py")
        current = target.read_text() if target.exists() else ""
        generated = not target.exists() or manifest.get(chapter) == digest(current)
        if write and current != wanted and (generated or force):
            target.write_text(wanted)
        elif current != wanted:
            drift[chapter] = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    f"{target} (on disk)",
                    f"{target} (generated)",
                )
            )
        elif not write and manifest.get(chapter) != digest(wanted):
            drift[chapter] = f"{manifest_path} does not record {target.name} as generated\n"
        if write and chapter not in drift:
            manifest[chapter] = digest(wanted)
    if write:
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return drift
