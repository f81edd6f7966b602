"""Rounds the MLP width down to a multiple of multiple_of instead of up."""

HINT = "ffn"


def ffn_hidden_dim(dim, multiple_of, ffn_dim_multiplier=None):
    hidden = int(2 * (4 * dim) / 3)
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * (hidden // multiple_of)
