"""No eps at all: a zero vector gives 0 / 0 = NaN."""

import torch

HINT = "eps_missing"


class RMSNorm(RMSNorm):  # noqa: F821  (the chapter's RMSNorm, with this forward)
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        x = hidden_states.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True))
        return self.weight * x.to(input_dtype)
