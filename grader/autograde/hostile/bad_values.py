"""Wrong shape, dtype and device, NaN and inf, in turn."""

import torch
from torch import nn


class RMSNorm(nn.Module):
    calls = 0

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x):
        RMSNorm.calls += 1
        wrong = (
            lambda: x[..., :-1],
            lambda: x.double(),
            lambda: x.to("meta"),
            lambda: x * float("nan"),
            lambda: x * float("inf"),
        )
        return wrong[RMSNorm.calls % len(wrong)]()
