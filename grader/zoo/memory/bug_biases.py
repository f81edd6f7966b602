"""Adds a bias to every linear layer, as GPT-2 has and LLaMA does not."""

HINT = "bias"


def count_parameters(config):
    d = config.hidden_size
    shapes = decoder_linear_shapes(config)  # noqa: F821
    per_layer = sum(rows * cols + rows for rows, cols in shapes) + 2 * d
    embeddings = config.vocab_size * d * (1 if config.tie_word_embeddings else 2)
    return embeddings + config.num_hidden_layers * per_layer + d
