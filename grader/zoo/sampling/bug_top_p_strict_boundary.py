"""Removes a token only when the ascending mass is strictly below 1 - top_p (`<` for `<=`):
on an exact boundary it keeps Meta's extra token."""

import torch

HINT = "boundary"


def top_p_filter(logits, top_p, min_tokens_to_keep=1, filter_value=-float("inf")):
    if not 0.0 <= top_p <= 1.0:
        raise ValueError(f"top_p must be in [0, 1], got {top_p}")
    sorted_logits, order = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative < 1 - top_p
    remove_sorted[..., -min_tokens_to_keep:] = False
    return logits.masked_fill(remove_sorted.scatter(-1, order, remove_sorted), filter_value)
