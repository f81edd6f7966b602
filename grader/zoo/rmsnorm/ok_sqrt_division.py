"""Correct, written differently: 1 / sqrt instead of rsqrt, the weight applied in float32."""

import torch
from torch import nn

HINT = None


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.eps = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        x = hidden_states.to(torch.float32)
        rms = torch.sqrt(torch.mean(x * x, dim=-1, keepdim=True) + self.eps)
        return (self.weight.to(torch.float32) * (x / rms)).to(hidden_states.dtype)
