"""Gives AdamW one state per parameter instead of two (momentum only)."""

HINT = "adam_states"

_correct_training_memory = training_memory  # noqa: F821  (the chapter's own)


def training_memory(config, dtype, optimizer="adamw", lora=None, batch_size=1, seq_len=512):
    breakdown = _correct_training_memory(config, dtype, optimizer, lora, batch_size, seq_len)
    breakdown.optimizer_states = breakdown.gradients + (
        breakdown.optimizer_states - 2 * breakdown.gradients
    )
    return breakdown
