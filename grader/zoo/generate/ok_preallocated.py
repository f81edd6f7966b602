"""Correct, written differently: a preallocated output, torch.where for finished rows, and
positions rebuilt from the mask by argmax of the first real token."""

import torch
import torch.nn.functional as F

HINT = None


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
    batch, prompt = input_ids.shape
    out = torch.cat([input_ids, input_ids.new_zeros(batch, max_new_tokens)], dim=1)
    alive = torch.ones(batch, dtype=torch.bool)
    cache = KVCache() if use_cache else None  # noqa: F821  (the chapter's own)
    length = prompt
    for step in range(max_new_tokens):
        start = length - 1 if use_cache and step else 0
        kwargs = {"cache": cache} if use_cache else {}
        if attention_mask is not None:
            mask = F.pad(attention_mask, (0, step), value=1)
            first_real = mask.argmax(dim=-1, keepdim=True)  # the padding is all on the left
            positions = (torch.arange(length) - first_real).clamp(min=0)
            kwargs |= {"position_ids": positions[:, start:], "attention_mask": mask}
        logits = model(out[:, start:length], **kwargs)
        token = sample_next_token(logits[:, -1, :], temperature, top_k, top_p, generator)  # noqa: F821
        if eos_token_id is not None:
            fill = eos_token_id if pad_token_id is None else pad_token_id
            token = torch.where(alive, token, torch.full_like(token, fill))
            alive &= token != eos_token_id
        out[:, length] = token
        length += 1
        if not alive.any():
            break
    return out[:, :length]
