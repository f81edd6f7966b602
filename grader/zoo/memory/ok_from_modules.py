"""Correct, written differently: counting by building the model on the meta device."""

import torch
from transformers import LlamaForCausalLM

HINT = None


def count_parameters(config):
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    return sum(p.numel() for p in model.parameters())  # parameters() yields tied ones once
