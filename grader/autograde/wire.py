"""What crosses between the grader and a sandboxed submission: safetensors plus JSON, no pickle.

A message is one safetensors blob. Its tensors are the message's tensors; its metadata holds
the rest of the message as JSON, in which each tensor is replaced by `{"$tensor": key}`.
Decoding rebuilds plain `torch.Tensor`s and JSON values only, so nothing a submission sends
can run code in the grader or pretend to be something it is not (a tensor subclass, an object
whose `__eq__` is always true).
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
from safetensors.torch import load, save

MAX_MESSAGE = 256 * 2**20  # bytes: far above any probe's output, far below a memory bomb
MAX_DEPTH = 32  # nesting of lists, tuples and dicts: a probe's output is a few levels deep
MAX_NODES = 100_000  # JSON values in one message (tensors carry the bulk)


class WireError(ValueError):
    """A message that is not what the protocol allows."""


def encode(value: Any) -> bytes:
    """Serialise tensors, dtypes, tuples, dicts with string keys and JSON scalars."""
    tensors: dict[str, torch.Tensor] = {}

    def pack(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            key = f"t{len(tensors)}"
            tensors[key] = v.detach().to("cpu").contiguous().clone()
            return {"$tensor": key}
        if isinstance(v, torch.dtype):
            return {"$dtype": str(v).removeprefix("torch.")}
        if isinstance(v, tuple):
            return {"$tuple": [pack(x) for x in v]}
        if isinstance(v, list):
            return [pack(x) for x in v]
        if isinstance(v, dict):
            if not all(isinstance(k, str) and not k.startswith("$") for k in v):
                raise WireError("dict keys must be strings not starting with $")
            return {k: pack(x) for k, x in v.items()}
        if isinstance(v, float) and not math.isfinite(v):
            return {"$float": str(v)}
        if v is None or isinstance(v, bool | int | float | str):
            return v
        raise WireError(f"cannot send a {type(v).__name__}")

    tree = pack(value)
    return save(tensors, metadata={"json": json.dumps(tree)})


def decode(blob: bytes) -> Any:
    """The value `encode` was given; anything malformed raises `WireError`."""
    if len(blob) > MAX_MESSAGE:
        raise WireError(f"message of {len(blob)} bytes is over the limit")
    try:
        tensors = load(blob)
        header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
        tree = json.loads(header["__metadata__"]["json"])
    except Exception as error:  # safetensors and json raise several types on garbage
        raise WireError(f"not a message: {type(error).__name__}") from None

    nodes = 0

    def unpack(v: Any, depth: int = 0) -> Any:
        nonlocal nodes
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            raise WireError(f"message deeper than {MAX_DEPTH} or over {MAX_NODES} values")
        if isinstance(v, list):
            return [unpack(x, depth + 1) for x in v]
        if not isinstance(v, dict):
            return v
        if set(v) == {"$tensor"}:
            return tensors[v["$tensor"]]
        if set(v) == {"$dtype"}:
            dtype = getattr(torch, str(v["$dtype"]), None)
            if not isinstance(dtype, torch.dtype):
                raise WireError("unknown dtype")
            return dtype
        if set(v) == {"$tuple"}:
            return tuple(unpack(x, depth + 1) for x in v["$tuple"])
        if set(v) == {"$float"}:
            return float(v["$float"])
        return {k: unpack(x, depth + 1) for k, x in v.items()}

    try:
        return unpack(tree)
    except WireError:
        raise
    except Exception as error:  # a forged value ({"$float": "x"}, a bad key): a bad message
        raise WireError(f"malformed message: {type(error).__name__}") from None
