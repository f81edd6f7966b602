"""Correct, written differently: counting the parameters of modules built on the meta device."""

import torch
from torch import nn

HINT = None


def count_parameters(config):
    d = config.hidden_size
    head = getattr(config, "head_dim", None) or d // config.num_attention_heads
    q, kv = config.num_attention_heads * head, config.num_key_value_heads * head
    inner = config.intermediate_size
    with torch.device("meta"):
        shapes = [(d, q), (d, kv), (d, kv), (q, d), (d, inner), (d, inner), (inner, d)]
        layer = nn.ModuleList([nn.Linear(i, o, bias=False) for i, o in shapes])
        layer.extend([nn.RMSNorm(d), nn.RMSNorm(d)])
        embeddings = nn.Embedding(config.vocab_size, d)
    per_layer = sum(p.numel() for p in layer.parameters())
    lm_head = 0 if config.tie_word_embeddings else embeddings.weight.numel()
    return embeddings.weight.numel() + lm_head + config.num_hidden_layers * per_layer + d
