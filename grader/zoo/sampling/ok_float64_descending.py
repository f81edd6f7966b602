"""Correct, written differently: top-p in float64 over a descending sort, keeping a token
while the mass from it down (itself and every less likely token) exceeds 1 - top_p.

(Computing "mass before < top_p" as 1 minus a tail instead would round tokens below 1e-16
away at top_p = 1, where HF keeps every token of nonzero probability.)
"""

import torch

HINT = None


def top_p_filter(logits, top_p, min_tokens_to_keep=1, filter_value=-float("inf")):
    if top_p < 0 or top_p > 1:
        raise ValueError(f"top_p must be in [0, 1], got {top_p}")
    probs, order = logits.double().softmax(dim=-1).sort(dim=-1, descending=True)
    mass_from_here = probs.flip(-1).cumsum(dim=-1).flip(-1)
    keep_sorted = mass_from_here > 1 - top_p
    keep_sorted[..., :min_tokens_to_keep] = True
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    return logits.masked_fill(~keep, filter_value)
