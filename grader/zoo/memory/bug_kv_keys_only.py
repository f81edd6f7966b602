"""Caches the keys only: forgets the 2 for keys and values."""

HINT = "kv_both"


def kv_cache_bytes(config, batch_size, seq_len, dtype):
    per_token = config.num_hidden_layers * config.num_key_value_heads * head_dim(config)  # noqa: F821
    return int(per_token * batch_size * seq_len * bytes_per_parameter(dtype))  # noqa: F821
