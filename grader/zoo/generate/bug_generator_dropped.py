"""Does not pass the generator on, so a seeded torch.Generator changes nothing."""

HINT = "generator"

_generate = generate  # noqa: F821  (the chapter's own)


def generate(*args, generator=None, **kwargs):
    return _generate(*args, **kwargs)
