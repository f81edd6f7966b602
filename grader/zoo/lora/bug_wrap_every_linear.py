"""Wraps every nn.Linear, whatever target_modules says."""

HINT = "targets"


def inject_lora(model, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
    model.requires_grad_(False)
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]  # noqa: F821
    for name, module in linears:
        parent_name, _, child = name.rpartition(".")
        wrapped = LoRALinear(module, r, lora_alpha, lora_dropout, use_rslora)  # noqa: F821
        setattr(model.get_submodule(parent_name), child, wrapped)
    return model
