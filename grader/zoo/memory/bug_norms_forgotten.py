"""Leaves out the RMSNorm weights."""

HINT = "norms"


def count_parameters(config):
    per_layer = sum(rows * cols for rows, cols in decoder_linear_shapes(config))  # noqa: F821
    embeddings = config.vocab_size * config.hidden_size * (1 if config.tie_word_embeddings else 2)
    return embeddings + config.num_hidden_layers * per_layer
