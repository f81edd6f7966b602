"""permute with the two middle axes in the wrong order: (n_heads, 2, head_dim // 2, in), the
inverse reordering (HF's layout back to Meta's)."""

HINT = "permute"


def permute(w, n_heads):
    rows, columns = w.shape
    return w.view(n_heads, 2, rows // n_heads // 2, columns).transpose(1, 2).reshape(rows, columns)
