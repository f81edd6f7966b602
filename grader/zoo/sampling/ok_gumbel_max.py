"""Correct, written differently: the Gumbel-max trick instead of torch.multinomial."""

import torch

HINT = None

_filters = (apply_temperature, top_k_filter, top_p_filter)  # noqa: F821  (the chapter's own)


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    scaled, top_k_, top_p_ = _filters
    scores = scaled(logits, temperature)
    if top_k is not None:
        scores = top_k_(scores, top_k)
    if top_p is not None:
        scores = top_p_(scores, top_p)
    uniform = torch.rand(scores.shape, generator=generator).clamp_min(1e-20)
    return (scores.float() - torch.log(-torch.log(uniform))).argmax(dim=-1)
