"""Ignores is_causal: every position attends to the future."""

import math

import torch

HINT = "causal"


def scaled_dot_product_attention(q, k, v, is_causal=True):
    n_rep = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)  # noqa: F821  (the chapter's own)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype) @ v
