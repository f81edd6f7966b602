"""Correct, written differently: the L2 norm over sqrt(d), with eps folded in as d * eps."""

import math

import torch
from torch import nn

HINT = None


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        x = hidden_states.double()  # float64: more precise than the reference, still correct
        d = x.shape[-1]
        norm = torch.sqrt(
            torch.linalg.vector_norm(x, dim=-1, keepdim=True) ** 2 + d * self.variance_epsilon
        )
        return self.weight * (x * math.sqrt(d) / norm).to(hidden_states.dtype)
