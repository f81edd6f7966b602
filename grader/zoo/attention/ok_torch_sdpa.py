"""Correct, written differently: torch's fused attention with GQA, and expand for repeat_kv."""

import torch
import torch.nn.functional as F

HINT = None


def repeat_kv(x, n_rep):
    batch, kv_heads, seq, dim = x.shape
    return x[:, :, None].expand(batch, kv_heads, n_rep, seq, dim).reshape(batch, -1, seq, dim)


def scaled_dot_product_attention(q, k, v, is_causal=True, attention_mask=None):
    mask = None
    if is_causal:  # the queries are the last positions: bottom-right aligned, unlike is_causal=
        mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril(
            k.shape[-2] - q.shape[-2]
        )
    if attention_mask is not None:  # torch gives zeros to a query that sees no key
        padding = attention_mask[:, None, None, :].bool()
        mask = padding if mask is None else mask & padding
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
