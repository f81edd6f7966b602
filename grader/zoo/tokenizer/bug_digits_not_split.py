"""Trains without split_digits: numbers merge into multi-digit pieces."""

from grader.zoo import sentencepiece_training_with

HINT = "split_digits"

spm = sentencepiece_training_with(split_digits=False)
