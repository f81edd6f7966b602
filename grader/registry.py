"""The graded items: one definition used by pytest, by the notebooks and by the grader.

An item is a check in three parts, kept apart so that the probe can later run in a sandboxed
process while the reference and the comparison stay in the trusted parent:

- inputs: fixed `examples` and an optional Hypothesis `strategy`, both producing cases
  (dicts of tensors and plain values);
- `probe(impl, case)`: calls the learner's implementation and returns plain tensors and
  values; it never sees an expected value;
- `verify(case, output)`: computes the Hugging Face reference and compares, raising
  `CheckFailed` with a message that names the likely mistake.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Case = Mapping[str, Any]
Output = Mapping[str, Any]


class CheckFailed(AssertionError):
    """A check did not pass; the message is one line meant for the learner."""


@dataclass(frozen=True)
class Item:
    """One graded item: a grade_id, its points, its chapter and its check."""

    grade_id: str
    chapter: str
    points: int
    title: str
    probe: Callable[[Any, Case], Output]
    verify: Callable[[Case, Output], None]
    examples: Callable[[], Iterable[Case]] = tuple
    strategy: Any = None  # a hypothesis SearchStrategy of cases, drawn after the examples
    max_examples: int | None = None  # a cap on drawn cases, for items that build whole models


ITEMS: dict[str, Item] = {}


def register(*items: Item) -> None:
    """Add items to the registry; a grade_id may be registered only once."""
    for item in items:
        if item.grade_id in ITEMS:
            raise ValueError(f"duplicate grade_id {item.grade_id!r}")
        ITEMS[item.grade_id] = item


def items(chapter: str | None = None) -> list[Item]:
    """The registered items, in registration order, optionally of one chapter."""
    import grader.checks  # noqa: F401  (importing the check modules fills the registry)

    return [item for item in ITEMS.values() if chapter in (None, item.chapter)]


def probe_locations(chapter: str) -> dict[str, str]:
    """Where each item's probe of the chapter lives, "module:function", by grade_id."""
    return {i.grade_id: f"{i.probe.__module__}:{i.probe.__qualname__}" for i in items(chapter)}


def children(chapter: str) -> list[tuple[list[str], list[str]]]:
    """The chapter's items by the parts their probe lends (`grader.probes.parts.lends`), in
    order: in kit grade, each group runs in a child that holds those parts alone."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for item in items(chapter):
        groups.setdefault(getattr(item.probe, "lends", ()), []).append(item.grade_id)
    return [(grade_ids, list(lent)) for lent, grade_ids in groups.items()]


def packages_kept(chapter: str) -> list[str]:
    """The packages its learners call that kit grade otherwise hides (`PACKAGES_KEPT` of the
    chapter's probe modules: sentencepiece, for chapter 8)."""
    modules = {sys.modules[item.probe.__module__] for item in items(chapter)}
    return sorted({name for module in modules for name in getattr(module, "PACKAGES_KEPT", ())})


def get(grade_id: str) -> Item:
    """The item with this grade_id."""
    for item in items():
        if item.grade_id == grade_id:
            return item
    raise KeyError(f"no graded item {grade_id!r}")
