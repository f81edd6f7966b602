"""GQA with `repeat` (k0, k1, k0, k1) instead of `repeat_interleave` (k0, k0, k1, k1)."""

HINT = "repeat_interleave"


def repeat_kv(x, n_rep):
    return x.repeat(1, n_rep, 1, 1)
