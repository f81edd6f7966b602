"""Accepts attention_mask but never passes it on: padding is attended and counted as positions."""

_generate = generate  # noqa: F821  (the chapter's own)


HINT = "padding"


def generate(model, input_ids, max_new_tokens, *args, attention_mask=None, **kwargs):
    return _generate(model, input_ids, max_new_tokens, *args, **kwargs)
