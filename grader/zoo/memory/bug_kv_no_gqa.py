"""Sizes the cache with num_attention_heads: grouped-query attention forgotten."""

HINT = "gqa"


def kv_cache_bytes(config, batch_size, seq_len, dtype):
    per_token = 2 * config.num_hidden_layers * config.num_attention_heads * head_dim(config)  # noqa: F821
    return int(per_token * batch_size * seq_len * bytes_per_parameter(dtype))  # noqa: F821
