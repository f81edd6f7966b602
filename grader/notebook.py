"""The graded cells of a chapter notebook call `check(grade_id, globals())`; `pair` sets up
a notebook that pytest sees."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hypothesis import settings

from grader import registry
from grader.chapters import Impl, display_path
from grader.runner import run_item


def check(grade_id: str, namespace: Mapping[str, Any]) -> None:
    """Run one graded item on the notebook's namespace: print ✓, or fail with the hint."""
    item = registry.get(grade_id)
    settings.load_profile("notebook")
    script = namespace.get("__file__")  # set when the chapter runs as `python rmsnorm.py`
    origin = display_path(Path(script)) if script else "the notebook"
    result = run_item(item, Impl(namespace, origin=origin))
    if not result.passed:
        # Written to stderr, not raised: nbgrader scores a grade cell that writes to stderr 0,
        # as it does one that raises, and a headless run (`jupyter nbconvert --execute`)
        # goes on to the later cells instead of stopping at the first failure.
        print(f"✗ {grade_id}: {result.message}", file=sys.stderr)
        return
    print(f"✓ {grade_id} ({item.points} point{'s' * (item.points != 1)}): {item.title}")


PAIRED = "ipynb,py:percent"


def pair(chapter_file: Path) -> Path:
    """Write `<chapter>.ipynb` next to the file, paired by jupytext: saving either updates both."""
    import jupytext

    notebook_path = chapter_file.with_suffix(".ipynb")
    notebook = jupytext.read(chapter_file, fmt="py:percent")
    if notebook_path.exists() and notebook.metadata.get("jupytext", {}).get("formats") != PAIRED:
        raise FileExistsError(
            f"{display_path(notebook_path)} exists and is not paired with "
            f"{display_path(chapter_file)}: move it away, then run this again"
        )
    notebook.metadata.setdefault("jupytext", {})["formats"] = PAIRED
    jupytext.write(notebook, chapter_file, fmt="py:percent")  # records the pairing in the .py
    jupytext.write(notebook, notebook_path)
    return notebook_path
