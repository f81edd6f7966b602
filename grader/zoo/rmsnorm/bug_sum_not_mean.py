"""The sum of squares instead of their mean (the L2 norm, not the RMS)."""

import torch

HINT = "mean_not_sum"


class RMSNorm(RMSNorm):  # noqa: F821  (the chapter's RMSNorm, with this forward)
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        x = hidden_states.float()
        x = x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(input_dtype)
