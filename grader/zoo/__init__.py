"""The bug zoo: known-wrong (and differently-right) implementations, one chapter file each.

`zoo/<chapter>/bug_*.py` must fail at least one item with the hint named by its `HINT`;
`zoo/<chapter>/ok_*.py` are correct implementations written differently from the solution
and must pass every item. Each file is a patch: it runs after the solution chapter, in the
same namespace, as if the learner had re-run a cell with their own version of a definition
(`grader.chapters.load_chapter(SOLUTIONS, chapter, patch=path)`).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

ZOO = Path(__file__).parent


def entries(chapter: str, prefix: str) -> list[Path]:
    """The zoo files of a chapter whose names start with `prefix` (`bug_` or `ok_`)."""
    return sorted((ZOO / chapter).glob(f"{prefix}*.py"))


def sentencepiece_training_with(**overrides) -> SimpleNamespace:
    """A stand-in for a chapter's `spm` module whose trainer forces some options (a bug)."""
    import sentencepiece

    def train(**options) -> None:
        sentencepiece.SentencePieceTrainer.train(**{**options, **overrides})

    return SimpleNamespace(
        SentencePieceProcessor=sentencepiece.SentencePieceProcessor,
        SentencePieceTrainer=SimpleNamespace(train=train),
    )
