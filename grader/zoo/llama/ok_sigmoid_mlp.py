"""Correct, written differently: SiLU spelled out as x * sigmoid(x), projections as F.linear."""

import torch
import torch.nn.functional as F

HINT = None


class MLP(MLP):  # noqa: F821  (the chapter's MLP, with this forward)
    def forward(self, x):
        gate = F.linear(x, self.gate_proj.weight)
        up = F.linear(x, self.up_proj.weight)
        return F.linear(gate * torch.sigmoid(gate) * up, self.down_proj.weight)
