"""Trains without byte fallback: unseen characters become the unknown token."""

from grader.zoo import sentencepiece_training_with

HINT = "byte_fallback"

spm = sentencepiece_training_with(byte_fallback=False)
