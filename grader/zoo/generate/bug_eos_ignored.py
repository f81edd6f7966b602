"""Ignores eos_token_id: rows keep sampling after EOS and the loop never stops early."""

HINT = "eos"

_generate = generate  # noqa: F821  (the chapter's own)


def generate(model, input_ids, max_new_tokens, *args, eos_token_id=None, **kwargs):
    return _generate(model, input_ids, max_new_tokens, *args, **kwargs)
