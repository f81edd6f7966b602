"""The mean of squares taken over the whole tensor instead of the hidden dimension."""

import torch

HINT = "last_dim"


class RMSNorm(RMSNorm):  # noqa: F821  (the chapter's RMSNorm, with this forward)
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        x = hidden_states.float()
        x = x * torch.rsqrt(x.pow(2).mean() + self.variance_epsilon)
        return self.weight * x.to(input_dtype)
