"""Sizes k_proj and v_proj as if every query head had its own key/value head."""

HINT = "gqa"


def decoder_linear_shapes(config):
    d, inner = config.hidden_size, config.intermediate_size
    q = config.num_attention_heads * head_dim(config)  # noqa: F821
    return [(q, d), (q, d), (q, d), (d, q), (inner, d), (inner, d), (d, inner)]
