"""The decoding loop of `GenerationMixin._sample` in plain torch, with chapter 7's signature:
lent to chapter 8, which builds on it."""

from __future__ import annotations

import torch

from grader.probes.parts.kv_cache import KVCache
from grader.probes.parts.sampling import sample_next_token


def generate(
    model,
    input_ids,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    eos_token_id=None,
    pad_token_id=None,
    generator=None,
    use_cache=False,
):
    """Append up to max_new_tokens sampled tokens to every row; finished rows get padding."""
    pad_token_id = eos_token_id if pad_token_id is None else pad_token_id
    cache = KVCache() if use_cache else None
    unfinished = torch.ones(input_ids.shape[0], dtype=torch.bool)
    new_ids = input_ids
    for _ in range(max_new_tokens):
        logits = model(new_ids, cache=cache) if use_cache else model(input_ids)
        tokens = sample_next_token(logits[:, -1, :], temperature, top_k, top_p, generator)
        if eos_token_id is not None:
            tokens = torch.where(unfinished, tokens, pad_token_id)
            unfinished &= tokens != eos_token_id
        input_ids = torch.cat([input_ids, tokens[:, None]], dim=-1)
        new_ids = input_ids[:, -1:]
        if not unfinished.any():
            break
    return input_ids
