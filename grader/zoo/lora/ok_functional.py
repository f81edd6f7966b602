"""Correct, written differently: a functional forward (F.linear, F.dropout), merges under
no_grad with add_, and a recursive inject_lora and merge_and_unload over named_children."""

import torch
import torch.nn.functional as F
from torch import nn

HINT = None


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with these methods)
    def forward(self, x):
        out = F.linear(x, self.base_layer.weight, self.base_layer.bias)
        if self.merged:
            return out
        p = self.lora_dropout.p if isinstance(self.lora_dropout, nn.Dropout) else 0.0
        hidden = F.linear(F.dropout(x, p, self.training), self.lora_A.weight)
        return out + self.scaling * F.linear(hidden, self.lora_B.weight)

    @torch.no_grad()
    def merge(self):
        if not self.merged:
            self.base_layer.weight.add_(self.lora_B.weight @ self.lora_A.weight, alpha=self.scaling)
            self.merged = True

    @torch.no_grad()
    def unmerge(self):
        if self.merged:
            self.base_layer.weight.sub_(self.lora_B.weight @ self.lora_A.weight, alpha=self.scaling)
            self.merged = False


def _wrap(module, target_modules, make):
    for name, child in module.named_children():
        if isinstance(child, nn.Linear) and name in target_modules:
            setattr(module, name, make(child))
        else:
            _wrap(child, target_modules, make)


def inject_lora(model, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
    for parameter in model.parameters():
        parameter.requires_grad = False
    _wrap(
        model, set(target_modules), lambda m: LoRALinear(m, r, lora_alpha, lora_dropout, use_rslora)
    )
    return model


def merge_and_unload(model):
    for name, child in model.named_children():
        if isinstance(child, LoRALinear):
            child.merge()
            setattr(model, name, child.base_layer)
        else:
            merge_and_unload(child)
    return model
