"""Meta's interleaved RoPE layout, pairing neighbours, where Hugging Face pairs halves.

A consistent rotation (norms and relative positions are fine), but not the one HF's weights
were trained with.
"""

import torch

HINT = "split_half"


def rotate_half(x):
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)


def rope_cos_sin(position_ids, head_dim, theta=10000.0):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = (position_ids[..., None].float() * inv_freq).repeat_interleave(2, dim=-1)
    return angles.cos(), angles.sin()
