"""Stops before the token that crosses top_p (keeps only tokens whose mass *including*
themselves stays below p)."""

import torch

HINT = "crossing"


def top_p_filter(logits, top_p, min_tokens_to_keep=1, filter_value=-float("inf")):
    if not 0.0 <= top_p <= 1.0:
        raise ValueError(f"top_p must be in [0, 1], got {top_p}")
    sorted_logits, order = torch.sort(logits, descending=True)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative >= top_p
    remove_sorted[..., :min_tokens_to_keep] = False
    return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), filter_value)
