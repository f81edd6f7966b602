"""LLaMA's parts in plain torch, with Hugging Face's names, weights layout and arithmetic.

An item that grades one part of chapter 3 runs the learner's class with the parts around it
lent (`Impl.substituted`). In `kit grade` the child that runs it may hold nothing that answers
another of its items, so it cannot be lent transformers' modules, which hold every part at
once: it gets these files instead, one per part, and only those its items are lent
(`grader.autograde.worker.hide_answer_key`). `tests/kit/test_parts.py` checks each against
transformers' module, per dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType


def lends(*parts: str) -> Callable[[Callable], Callable]:
    """Mark a probe with the parts (modules of this package) that the child running it holds."""

    def mark(probe: Callable) -> Callable:
        probe.lends = parts
        return probe

    return mark


def defined_in(*modules: ModuleType) -> dict[str, object]:
    """The public functions and classes these part modules define: what a stand-in for an
    earlier chapter (`grader.reference`, in kit grade) holds of them."""
    return {
        name: value
        for module in modules
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
