"""Leaves allow_whitespace_only_pieces at its default, False (Meta's file has True)."""

from grader.zoo import sentencepiece_training_with

HINT = "allow_whitespace_only_pieces"

spm = sentencepiece_training_with(allow_whitespace_only_pieces=False)
