"""Trains without byte fallback: unseen characters become the unknown token."""

from types import SimpleNamespace

import sentencepiece

HINT = "byte_fallback"


def _train(**options):
    sentencepiece.SentencePieceTrainer.train(**{**options, "byte_fallback": False})


spm = SimpleNamespace(
    SentencePieceProcessor=sentencepiece.SentencePieceProcessor,
    SentencePieceTrainer=SimpleNamespace(train=_train),
)
