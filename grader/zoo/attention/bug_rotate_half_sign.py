"""rotate_half with the sign on the wrong half: (x2, -x1) instead of (-x2, x1)."""

import torch

HINT = "rotate_sign"


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x2, -x1), dim=-1)
