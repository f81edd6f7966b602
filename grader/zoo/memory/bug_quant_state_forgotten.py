"""Counts the packed 4-bit weights only, as bitsandbytes' get_memory_footprint() reports:
no absmax scales, no code tables."""

HINT = "quantized"


def quantized_weight_memory_bytes(
    config,
    bits=4,
    blocksize=64,
    double_quant=False,
    compute_dtype=torch.bfloat16,  # noqa: F821
):
    linears = config.num_hidden_layers * sum(r * c for r, c in decoder_linear_shapes(config))  # noqa: F821
    rest = count_parameters(config) - linears  # noqa: F821
    return linears * bits // 8 + rest * int(bytes_per_parameter(compute_dtype))  # noqa: F821
