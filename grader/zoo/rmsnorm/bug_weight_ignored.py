"""Defines the weight but never multiplies by it."""

import torch

HINT = "weight_used"


class RMSNorm(RMSNorm):  # noqa: F821  (the chapter's RMSNorm, with this forward)
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        x = hidden_states.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return x.to(input_dtype)
