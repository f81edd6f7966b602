"""Stops when every row has finished, but lets a finished row go on sampling (no padding)."""

import torch

HINT = "eos"


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
    attention_mask=None,
):
    cache = KVCache() if use_cache else None  # noqa: F821  (the chapter's own)
    finished = torch.zeros(input_ids.shape[0], dtype=torch.bool)
    new_ids = input_ids
    for _ in range(max_new_tokens):
        logits = model(new_ids, cache=cache) if use_cache else model(input_ids)
        tokens = sample_next_token(logits[:, -1, :], temperature, top_k, top_p, generator)  # noqa: F821
        if eos_token_id is not None:
            finished |= tokens == eos_token_id
        input_ids = torch.cat([input_ids, tokens[:, None]], dim=-1)
        new_ids = tokens[:, None]
        if finished.all():
            break
    return input_ids
