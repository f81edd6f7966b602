"""LlamaMLP in plain torch."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """LlamaMLP (SwiGLU) with the learner's signature (hidden_size, intermediate_size)."""

    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """down_proj(silu(gate_proj(x)) * up_proj(x))."""
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))
