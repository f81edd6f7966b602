"""Forgets lm_head: counts the vocabulary matrix once, tied or not."""

HINT = "lm_head"


def count_parameters(config):
    d = config.hidden_size
    per_layer = sum(rows * cols for rows, cols in decoder_linear_shapes(config)) + 2 * d  # noqa: F821
    return config.vocab_size * d + config.num_hidden_layers * per_layer + d
