"""Saves the adapter under peft's in-memory names, with `.default.` in every key."""

HINT = "save_keys"

_correct_save_adapter = save_adapter  # noqa: F821  (the chapter's own)


def save_adapter(
    model, directory, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False
):
    from safetensors.torch import load_file, save_file

    _correct_save_adapter(model, directory, target_modules, r, lora_alpha, lora_dropout, use_rslora)
    path = Path(directory) / "adapter_model.safetensors"  # noqa: F821
    tensors = load_file(path)
    renamed = {
        k.replace(".lora_A.", ".lora_A.default.").replace(".lora_B.", ".lora_B.default."): v
        for k, v in tensors.items()
    }
    save_file(renamed, path)
