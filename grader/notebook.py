"""The graded cells of a chapter notebook call `check(grade_id, globals())`."""

from __future__ import annotations

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
        # An error in the cell is what gives 0 points under nbgrader's autograde.
        raise registry.CheckFailed(f"{grade_id}: {result.message}")
    print(f"✓ {grade_id} ({item.points} point{'s' * (item.points != 1)}): {item.title}")
