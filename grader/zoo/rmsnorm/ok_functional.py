"""Correct, written differently: torch.nn.functional.rms_norm, computed in float32."""

import torch
import torch.nn.functional as F
from torch import nn

HINT = None


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        normed = F.rms_norm(
            hidden_states.float(), hidden_states.shape[-1:], eps=self.variance_epsilon
        )
        return self.weight * normed.to(hidden_states.dtype)
