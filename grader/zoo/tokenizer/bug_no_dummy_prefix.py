"""Trains with add_dummy_prefix=False: a word at the start of a text loses its ▁."""

from grader.zoo import sentencepiece_training_with

HINT = "add_dummy_prefix"

spm = sentencepiece_training_with(add_dummy_prefix=False)
