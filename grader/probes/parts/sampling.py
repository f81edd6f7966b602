"""`generate(do_sample=True)`'s last step in plain torch: HF's temperature, top-k and top-p
warpers on float32 scores, then one draw per row (chapter 6's `sample_next_token`)."""

from __future__ import annotations

import torch


def top_k_filter(scores: torch.Tensor, top_k: int) -> torch.Tensor:
    """TopKLogitsWarper: -inf below the top_k-th largest score (its ties kept)."""
    if not isinstance(top_k, int) or top_k <= 0:
        raise ValueError(f"`top_k` has to be a strictly positive integer, but is {top_k}")
    kth = torch.topk(scores, min(top_k, scores.size(-1)))[0][..., -1, None]
    return scores.masked_fill(scores < kth, -float("inf"))


def top_p_filter(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    """TopPLogitsWarper: -inf outside the smallest top set whose probability reaches top_p."""
    top_p = float(top_p)
    if top_p < 0 or top_p > 1.0:
        raise ValueError(f"`top_p` has to be a float > 0 and < 1, but is {top_p}")
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_to_remove = cumulative_probs <= (1 - top_p)
    sorted_to_remove[..., -1:] = 0  # min_tokens_to_keep
    to_remove = sorted_to_remove.scatter(1, sorted_indices, sorted_to_remove)
    return scores.masked_fill(to_remove, -float("inf"))


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """The next token of every row: argmax at temperature 0, else a draw from the warped
    softmax."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    if not isinstance(temperature, float) or not temperature > 0:
        raise ValueError(f"`temperature` (={temperature}) has to be a strictly positive float")
    scores = logits.float() / temperature
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None:
        scores = top_p_filter(scores, top_p)
    return torch.multinomial(scores.softmax(dim=-1), 1, generator=generator).squeeze(-1)
