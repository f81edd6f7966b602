"""Treats temperature 1 (the default) as greedy decoding."""

HINT = "greedy"

_sample = sample_next_token  # noqa: F821  (the chapter's own)


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    if temperature in (0, 1):
        return logits.argmax(dim=-1)
    return _sample(logits, temperature, top_k, top_p, generator)
