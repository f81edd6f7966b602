"""peft's injection in chapter 5's terms: freeze the model, wrap the target layers by name."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def inject_lora_with(layer_class: type) -> Callable[..., nn.Module]:
    """An `inject_lora` that wraps each targeted nn.Linear in `layer_class`."""

    def inject_lora(model, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
        model.requires_grad_(False)
        for name, module in list(model.named_modules()):
            if isinstance(module, nn.Linear) and name.split(".")[-1] in target_modules:
                parent, _, child = name.rpartition(".")
                wrapped = layer_class(module, r, lora_alpha, lora_dropout, use_rslora)
                setattr(model.get_submodule(parent), child, wrapped)
        return model

    return inject_lora
