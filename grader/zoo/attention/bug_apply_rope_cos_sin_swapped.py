"""apply_rope with cos and sin swapped: q * sin + rotate_half(q) * cos."""

HINT = "cos_sin_swapped"


def apply_rope(q, k, cos, sin):
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return q * sin + rotate_half(q) * cos, k * sin + rotate_half(k) * cos  # noqa: F821
