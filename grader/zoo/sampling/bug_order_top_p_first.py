"""Applies top-p before top-k: top-p then measures the mass of the whole vocabulary."""

import torch

HINT = "order"


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = apply_temperature(logits, temperature)  # noqa: F821  (the chapter's own)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)  # noqa: F821
    if top_k is not None:
        logits = top_k_filter(logits, top_k)  # noqa: F821
    probs = logits.float().softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
