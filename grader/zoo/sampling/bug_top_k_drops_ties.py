"""Keeps exactly k tokens, dropping the ties of the k-th largest."""

import torch

HINT = "ties"


def top_k_filter(logits, top_k, filter_value=-float("inf")):
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, got {top_k}")
    keep = torch.zeros_like(logits, dtype=torch.bool)
    keep.scatter_(-1, torch.topk(logits, min(top_k, logits.shape[-1])).indices, True)
    return logits.masked_fill(~keep, filter_value)
