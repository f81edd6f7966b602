"""Correct, written differently: the L2 norm over sqrt(d), with eps folded in as d * eps."""

import math

import torch

HINT = None


class RMSNorm(RMSNorm):  # noqa: F821  (the chapter's RMSNorm, with this forward)
    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        x = hidden_states.double()  # float64: more precise than the reference, still correct
        d = x.shape[-1]
        norm = torch.sqrt(
            torch.linalg.vector_norm(x, dim=-1, keepdim=True) ** 2 + d * self.variance_epsilon
        )
        return self.weight * (x * math.sqrt(d) / norm).to(hidden_states.dtype)
