"""Correct, written differently: the LoRA path as x @ Aᵀ @ (scaling · B)ᵀ, the merge as addmm."""

import torch

HINT = None


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with these methods)
    def forward(self, x):
        if self.merged:
            return self.base_layer(x)
        update = self.lora_dropout(x) @ self.lora_A.weight.T @ (self.scaling * self.lora_B.weight).T
        return self.base_layer(x) + update

    @torch.no_grad()  # addmm's out= refuses tensors that autograd tracks
    def merge(self):
        if not self.merged:
            weight = self.base_layer.weight
            torch.addmm(
                weight, self.lora_B.weight, self.lora_A.weight, alpha=self.scaling, out=weight
            )
            self.merged = True
