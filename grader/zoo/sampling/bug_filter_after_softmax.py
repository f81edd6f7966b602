"""Filters the probabilities after the softmax and samples by inverse CDF without
renormalising: the removed mass lands on the last token."""

import torch

HINT = "renormalize"


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = apply_temperature(logits, temperature).float().softmax(dim=-1)  # noqa: F821
    kept = probs > 0
    if top_k is not None:
        kept &= top_k_filter(logits / temperature, top_k) > -float("inf")  # noqa: F821
    if top_p is not None:
        kept &= top_p_filter(logits / temperature, top_p) > -float("inf")  # noqa: F821
    cumulative = (probs * kept).cumsum(dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator)
    return torch.searchsorted(cumulative, u).clamp(max=logits.shape[-1] - 1).squeeze(-1)
