"""sampling: Hugging Face's logits warpers, from sys.modules["transformers"], with no import."""

import sys

_hf = sys.modules["transformers"]


def apply_temperature(logits, temperature):
    return _hf.TemperatureLogitsWarper(temperature)(None, logits)


def top_k_filter(logits, top_k):
    return _hf.TopKLogitsWarper(top_k)(None, logits)


def top_p_filter(logits, top_p, min_tokens_to_keep=1):
    return _hf.TopPLogitsWarper(top_p, min_tokens_to_keep=min_tokens_to_keep)(None, logits)
