"""LlamaRMSNorm in plain torch."""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    """LlamaRMSNorm: normalised in float32, scaled by `weight` in the input's dtype."""

    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """weight * x / sqrt(mean(x²) + eps), as HF rounds it."""
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)
