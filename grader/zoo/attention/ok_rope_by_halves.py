"""Correct, written differently: angles in float64, and the rotation written out by halves."""

import torch

HINT = None


def rope_cos_sin(position_ids, head_dim, theta=10000.0):
    exponents = torch.arange(head_dim // 2, dtype=torch.float64) * 2 / head_dim
    angles = position_ids.double().unsqueeze(-1) * theta ** (-exponents)
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float(), angles.sin().float()


def apply_rope(q, k, cos, sin):
    half = q.shape[-1] // 2
    cos, sin = cos[:, None, :, :half], sin[:, None, :, :half]

    def rotate(x):
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    return rotate(q), rotate(k)
