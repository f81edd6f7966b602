"""Trains without split_digits: numbers merge into multi-digit pieces."""

from types import SimpleNamespace

import sentencepiece

HINT = "split_digits"


def _train(**options):
    sentencepiece.SentencePieceTrainer.train(**{**options, "split_digits": False})


spm = SimpleNamespace(
    SentencePieceProcessor=sentencepiece.SentencePieceProcessor,
    SentencePieceTrainer=SimpleNamespace(train=_train),
)
