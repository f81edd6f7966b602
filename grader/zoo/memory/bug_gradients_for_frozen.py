"""With LoRA, counts gradients for every weight, the frozen base included."""

HINT = "trainable"

_correct_training_memory = training_memory  # noqa: F821  (the chapter's own)


def training_memory(config, dtype, optimizer="adamw", lora=None, batch_size=1, seq_len=512):
    breakdown = _correct_training_memory(config, dtype, optimizer, lora, batch_size, seq_len)
    if lora is not None:
        breakdown.gradients += weight_memory_bytes(config, dtype)  # noqa: F821
    return breakdown
