"""Correct, written differently: the closed-form count, bytes from the dtype's bit width."""

import torch

HINT = None


def count_parameters(config):
    h, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    d = config.hidden_size // config.num_attention_heads
    attention = 2 * h * config.num_attention_heads * d + 2 * h * config.num_key_value_heads * d
    per_layer = attention + 3 * h * config.intermediate_size + 2 * h
    embeddings = vocab * h * (1 if config.tie_word_embeddings else 2)
    return embeddings + layers * per_layer + h


def bytes_per_parameter(dtype):
    if dtype == "4bit":
        return 0.5
    info = torch.finfo(dtype) if dtype.is_floating_point else torch.iinfo(dtype)
    return info.bits // 8


def fits(breakdown, gpu_bytes):
    return not breakdown.total > gpu_bytes
