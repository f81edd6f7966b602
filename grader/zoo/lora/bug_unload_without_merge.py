"""merge_and_unload puts the base layers back without merging: the adapters are lost."""

HINT = "unload"


def merge_and_unload(model):
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):  # noqa: F821
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, module.base_layer)
    return model
