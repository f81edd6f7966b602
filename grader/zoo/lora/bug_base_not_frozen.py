"""Never freezes anything: the base model trains along with the adapters."""

HINT = "frozen"


class LoRALinear(LoRALinear):  # noqa: F821  (the chapter's LoRALinear, with this __init__)
    def __init__(self, base_layer, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
        super().__init__(base_layer, r, lora_alpha, lora_dropout, use_rslora)
        base_layer.requires_grad_(True)


def inject_lora(model, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
    targets = [(n, m) for n, m in model.named_modules() if n.split(".")[-1] in target_modules]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        wrapped = LoRALinear(module, r, lora_alpha, lora_dropout, use_rslora)
        setattr(model.get_submodule(parent_name), child, wrapped)
    return model
