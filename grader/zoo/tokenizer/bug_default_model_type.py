"""Leaves model_type at sentencepiece's default, a unigram model."""

from grader.zoo import sentencepiece_training_with

HINT = "unigram"

spm = sentencepiece_training_with(model_type="unigram")
