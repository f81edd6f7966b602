"""Every zoo bug fails at least one item with its own hint; every correct alternative passes."""

import importlib
from pathlib import Path

import pytest

from grader import registry
from grader.chapters import CHAPTERS, SOLUTIONS, load_chapter
from grader.runner import run_item
from grader.zoo import entries


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


def patched(chapter: str, path: Path):
    """The solution chapter with the zoo file run over it."""
    return load_chapter(SOLUTIONS, chapter, patch=path)


def failures(chapter: str, path: Path) -> dict[str, str]:
    """The message of every item of the chapter that the zoo file fails."""
    impl = patched(chapter, path)
    results = [run_item(item, impl) for item in registry.items(chapter)]
    return {r.item.grade_id: r.message for r in results if not r.passed}


@pytest.mark.parametrize(("chapter", "path"), zoo("bug_"))
def test_bug_is_caught_with_its_hint(chapter, path):
    expected = hints(chapter)[patched(chapter, path).HINT]
    failed = failures(chapter, path)
    assert failed, f"{path.name} passes every item of {chapter}"
    assert any(expected in message for message in failed.values()), (
        f"{path.name} fails {sorted(failed)} but none with its hint {expected!r}: {failed}"
    )


@pytest.mark.parametrize(("chapter", "path"), zoo("ok_"))
def test_correct_alternative_passes(chapter, path):
    assert patched(chapter, path).HINT is None
    assert failures(chapter, path) == {}
