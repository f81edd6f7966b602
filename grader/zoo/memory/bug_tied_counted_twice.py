"""Counts lm_head separately even when it is tied to the embeddings."""

HINT = "lm_head"


def count_parameters(config):
    d = config.hidden_size
    per_layer = sum(rows * cols for rows, cols in decoder_linear_shapes(config)) + 2 * d  # noqa: F821
    return 2 * config.vocab_size * d + config.num_hidden_layers * per_layer + d
