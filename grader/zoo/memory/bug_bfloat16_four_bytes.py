"""Counts every float as 4 bytes, bfloat16 and float16 included."""

HINT = "dtype_bytes"


def bytes_per_parameter(dtype):
    return {"4bit": 0.5}.get(dtype, 1 if str(dtype) == "torch.int8" else 4)
