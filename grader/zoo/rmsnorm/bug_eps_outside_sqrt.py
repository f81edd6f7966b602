"""eps added after the square root: x / (sqrt(mean(x²)) + eps)."""

import torch
from torch import nn

HINT = "eps_inside_sqrt"


class RMSNorm(nn.Module):
    def __init__(self, hidden_size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        x = hidden_states.float()
        rms = x.pow(2).mean(-1, keepdim=True).sqrt()
        return self.weight * (x / (rms + self.variance_epsilon)).to(input_dtype)
