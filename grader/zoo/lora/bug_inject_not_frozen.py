"""inject_lora without model.requires_grad_(False): embeddings, norms and untargeted layers
stay trainable."""

HINT = "frozen"


def inject_lora(model, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False):
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and name.split(".")[-1] in target_modules:  # noqa: F821
            parent_name, _, child = name.rpartition(".")
            wrapped = LoRALinear(module, r, lora_alpha, lora_dropout, use_rslora)  # noqa: F821
            setattr(model.get_submodule(parent_name), child, wrapped)
    return model
