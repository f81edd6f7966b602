"""eps added after the square root: x / (sqrt(mean(x²)) + eps)."""

import torch

HINT = "eps_inside_sqrt"


class RMSNorm(RMSNorm):  # noqa: F821  (the chapter's RMSNorm, with this forward)
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        x = hidden_states.float()
        rms = x.pow(2).mean(-1, keepdim=True).sqrt()
        return self.weight * (x / (rms + self.variance_epsilon)).to(input_dtype)
