"""Assumes AdamW keeps its two states in float32 even for bfloat16 weights."""

HINT = "adam_dtype"

_correct_training_memory = training_memory  # noqa: F821  (the chapter's own)


def training_memory(config, dtype, optimizer="adamw", lora=None, batch_size=1, seq_len=512):
    breakdown = _correct_training_memory(config, dtype, optimizer, lora, batch_size, seq_len)
    if lora is None and dtype != torch.float32:  # noqa: F821
        size = bytes_per_parameter(dtype)  # noqa: F821
        breakdown.optimizer_states += int(breakdown.gradients * 2 * (4 / size - 1))
    return breakdown
