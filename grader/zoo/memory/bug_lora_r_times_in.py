"""Counts each LoRA adapter as r * in: only A, forgetting B."""

HINT = "lora_shapes"


def lora_parameter_count(config, r, target_modules):
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    shapes = dict(zip(names, decoder_linear_shapes(config), strict=True))  # noqa: F821
    total = sum(
        config.num_hidden_layers * r * cols
        for name, (_, cols) in shapes.items()
        if name in target_modules
    )
    if "lm_head" in target_modules:
        total += r * config.hidden_size
    return total
