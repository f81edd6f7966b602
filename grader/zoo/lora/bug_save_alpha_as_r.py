"""adapter_config.json gives lora_alpha the value of r: peft loads the adapter with scaling 1."""

HINT = "save_config"

_correct_save_adapter = save_adapter  # noqa: F821  (the chapter's own)


def save_adapter(
    model, directory, target_modules, r, lora_alpha, lora_dropout=0.0, use_rslora=False
):
    _correct_save_adapter(model, directory, target_modules, r, r, lora_dropout, use_rslora)
