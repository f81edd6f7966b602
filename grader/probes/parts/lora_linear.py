"""peft's lora.Linear in chapter 5's layout (plain lora_A and lora_B, no adapter names)."""

from __future__ import annotations

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    """A frozen base layer plus scaling * lora_B(lora_A(dropout(x))), as peft's Linear."""

    def __init__(self, base_layer, r, lora_alpha, lora_dropout=0.0, use_rslora=False) -> None:
        super().__init__()
        self.base_layer = base_layer.requires_grad_(False)
        self.lora_A = nn.Linear(base_layer.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base_layer.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.lora_dropout = nn.Dropout(lora_dropout) if lora_dropout > 0 else nn.Identity()
        self.scaling = lora_alpha / (math.sqrt(r) if use_rslora else r)
        self.merged = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """base(x) + lora_B(lora_A(dropout(x))) * scaling, as peft's Linear.forward."""
        result = self.base_layer(x)
        if self.merged:
            return result
        return result + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """peft's merge(): W + scaling * (B @ A), once."""
        if not self.merged:
            self.base_layer.weight += self.lora_B.weight @ self.lora_A.weight * self.scaling
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """peft's unmerge(): subtract what merge() added, once."""
        if self.merged:
            self.base_layer.weight -= self.lora_B.weight @ self.lora_A.weight * self.scaling
            self.merged = False
