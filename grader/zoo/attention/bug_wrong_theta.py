"""Ignores the theta it is given and always uses Llama 2's 10,000."""

import torch

HINT = "theta"


def rope_cos_sin(position_ids, head_dim, theta=10000.0):
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = position_ids[..., None].float() * inv_freq
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), angles.sin()
