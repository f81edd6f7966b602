"""Llama 3 scaling without the smooth band: pairs between the two wavelengths are divided
by factor, as if they turned slowly."""

import math

import torch

HINT = "llama3"


def inv_freq(head_dim, rope_parameters):
    theta = rope_parameters["rope_theta"]
    base = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    if rope_parameters.get("rope_type", "default") == "default":
        return base
    high = rope_parameters["high_freq_factor"]
    original = rope_parameters["original_max_position_embeddings"]
    wavelen = 2 * math.pi / base
    return torch.where(wavelen < original / high, base, base / rope_parameters["factor"])
