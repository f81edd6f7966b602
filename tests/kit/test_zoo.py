"""Every zoo bug fails at least one item with its own hint; every correct alternative passes.

With KIT_KILL_MATRIX set to a folder, each test also writes its zoo file's row of the kill matrix
there (grader.zoo.matrix), from this same run.
"""

import importlib
import os
from pathlib import Path

import pytest

from grader import registry
from grader.chapters import CHAPTERS, SOLUTIONS, load_chapter
from grader.runner import run_item
from grader.zoo import entries, matrix


def hints(chapter: str) -> dict[str, str]:
    """The chapter's hints, by key."""
    return importlib.import_module(f"grader.checks.{chapter}").HINTS


def zoo(prefix: str) -> list:
    """One test parameter per zoo file of every chapter."""
    return [
        pytest.param(
            chapter, path, id=f"{chapter}/{path.stem}", marks=getattr(pytest.mark, chapter)
        )
        for chapter in CHAPTERS
        for path in entries(chapter, prefix)
    ]


def failures(chapter: str, path: Path) -> tuple[str | None, dict[str, str]]:
    """The zoo file's HINT, and the message of every item of its chapter that it fails.

    Every item runs (not only until the first failure), so that the kill matrix row is whole.
    """
    impl = load_chapter(SOLUTIONS, chapter, patch=path)
    results = [run_item(item, impl) for item in registry.items(chapter)]
    if rows := os.environ.get("KIT_KILL_MATRIX"):
        outcomes = [(r.item.grade_id, r.passed, r.message) for r in results]
        matrix.record(Path(rows), chapter, path, impl.HINT, outcomes, hints(chapter))
    return impl.HINT, {r.item.grade_id: r.message for r in results if not r.passed}


@pytest.mark.parametrize(("chapter", "path"), zoo("bug_"))
def test_bug_is_caught_with_its_hint(chapter, path):
    hint, failed = failures(chapter, path)
    expected = hints(chapter)[hint]
    assert failed, f"{path.name} passes every item of {chapter}"
    assert any(expected in message for message in failed.values()), (
        f"{path.name} fails {sorted(failed)} but none with its hint {expected!r}: {failed}"
    )


@pytest.mark.parametrize(("chapter", "path"), zoo("ok_"))
def test_correct_alternative_passes(chapter, path):
    hint, failed = failures(chapter, path)
    assert hint is None
    assert failed == {}


def row(entry: str, hint: str | None, **outcomes: str | None) -> matrix.Row:
    """A made-up kill-matrix row of the memory chapter, with items a and b."""
    return matrix.Row("memory", entry, "", hint, {"a": "", "b": "", **outcomes})


def test_matrix_names_every_gap():
    rows = [
        row("bug_caught", "x", a="x"),
        row("bug_other_hint", "x", a="y"),
        row("bug_no_hint", "x", a=None),
        row("ok_fails", None, b=None),
    ]
    assert matrix.problems(rows) == [
        "memory/bug_other_hint: no item fails it with its own hint 'x'",
        "memory/bug_no_hint: no item fails it with its own hint 'x'",
        "memory/ok_fails: a correct alternative fails ['b']",
        "memory: item b catches no zoo bug (add a bug it catches, or drop it)",
    ]
    assert matrix.problems([rows[0], row("bug_b", "z", b="z", a="w")]) == []


def test_matrix_rates_and_cells():
    rows = [row("bug_one", "x", a="x", b="y"), row("bug_two", "z", a=None)]
    assert matrix.rates(rows) == {"memory": (1, 2, 1, 3)}
    table = matrix.render(rows)
    assert "| `bug_one` | x | **x** | y | 1/2 (50%) |" in table
    assert "| `bug_two` | z | ✗ | · | 0/1 (0%) |" in table
    assert matrix.hint_key("… scaling is lora_alpha / r. Merge", {"s": "scaling is"}) == "s"
