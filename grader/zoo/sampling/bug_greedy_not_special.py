"""Temperature 0 is not special-cased: it samples from the unscaled softmax instead of taking
the argmax (dividing by 0 is avoided, greedy decoding forgotten)."""

HINT = "greedy"

_sample = sample_next_token  # noqa: F821  (the chapter's own)


def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    return _sample(logits, temperature or 1.0, top_k, top_p, generator)
