"""Correct, written differently: torch.nn.functional.rms_norm, computed in float32."""

import torch
import torch.nn.functional as F

HINT = None


class RMSNorm(RMSNorm):  # noqa: F821  (the chapter's RMSNorm, with this forward)
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        normed = F.rms_norm(
            hidden_states.float(), hidden_states.shape[-1:], eps=self.variance_epsilon
        )
        return self.weight * normed.to(hidden_states.dtype)
