"""Forgets to scale the scores by 1 / sqrt(head_dim)."""

import torch

HINT = "scale"


def scaled_dot_product_attention(q, k, v, is_causal=True, attention_mask=None):
    n_rep = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)  # noqa: F821  (the chapter's own)
    scores = q @ k.transpose(-2, -1)
    visible = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool)
    if is_causal:
        visible = visible.tril(k.shape[-2] - q.shape[-2])
    if attention_mask is not None:
        visible = visible & attention_mask[:, None, None, :].bool()
    scores = scores.masked_fill(~visible, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype) @ v
