"""A stand-in for transformers' `LlamaConfig`, for the child that runs a submission.

A learner's memory or model code does `from transformers import LlamaConfig`, and transformers
holds the answers to both chapters. In `kit grade`, the child of such a chapter gets this
module as `transformers` instead (`stand_ins`): a plain class with `LlamaConfig`'s fields,
defaults and derived values, and nothing else. `tests/kit/test_stand_ins.py` checks it
against transformers' own class.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.machinery
import json
import types
from typing import Any, ClassVar

THETA = 10000.0
# The fields transformers' strict dataclass checks to be int (a float or a bool is refused).
WHOLE = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers")
WHOLE += ("num_attention_heads", "num_key_value_heads", "max_position_embeddings", "head_dim")


@dataclasses.dataclass(init=False, eq=False, repr=False)
class LlamaConfig:
    """LlamaConfig's fields, defaults and derived values (transformers 5: a dataclass that
    keeps unknown keyword arguments too); it builds no model."""

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None  # num_attention_heads
    hidden_act: str = "silu"
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    rms_norm_eps: float = 1e-6
    use_cache: bool = True
    pad_token_id: int | None = None
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    pretraining_tp: int | None = 1
    tie_word_embeddings: bool = False
    rope_parameters: dict | None = None  # {"rope_type": "default", "rope_theta": 10000.0}
    attention_bias: bool = False
    attention_dropout: float = 0.0
    mlp_bias: bool = False
    head_dim: int | None = None  # hidden_size // num_attention_heads
    dtype: Any = None
    model_type: ClassVar[str] = "llama"

    def __init__(self, **kwargs: Any) -> None:
        theta = kwargs.pop("rope_theta", None)  # the older spellings, still accepted
        scaling = kwargs.pop("rope_scaling", None)  # and preferred, as transformers does
        for field in dataclasses.fields(self):
            value = kwargs.pop(field.name, field.default)
            if field.name in WHOLE and not (type(value) is int or value is None is field.default):
                raise TypeError(f"Field '{field.name}' expected int, got {type(value).__name__}")
            setattr(self, field.name, copy.deepcopy(value))
        for name, value in kwargs.items():  # unknown names are kept, as transformers does
            setattr(self, name, value)
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        parameters = dict(scaling or self.rope_parameters or {})
        if theta is not None:
            parameters.setdefault("rope_theta", theta)
        parameters.setdefault("rope_theta", THETA)
        parameters.setdefault("rope_type", "default")
        self.rope_parameters = parameters
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"The hidden size ({self.hidden_size}) is not a multiple of the number of "
                f"attention heads ({self.num_attention_heads})."
            )
        if self.head_dim > 4 and self.head_dim % 2:  # transformers allows tiny test heads
            raise ValueError(f"RoPE needs an even rotary dimension, got head_dim={self.head_dim}")

    @property
    def rope_scaling(self) -> dict:
        """The older name of `rope_parameters`."""
        return self.rope_parameters

    @classmethod
    def from_dict(cls, values: dict[str, Any], **kwargs: Any) -> LlamaConfig:
        """A config from a dict (`to_dict`'s, say), as transformers' `from_dict`."""
        return cls(**{**values, **kwargs})

    def to_dict(self) -> dict[str, Any]:
        """The fields, as a dict."""
        return {**copy.deepcopy(vars(self)), "model_type": self.model_type}

    def to_json_string(self) -> str:
        """The fields, as JSON."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def update(self, values: dict[str, Any]) -> None:
        """Set these fields."""
        for name, value in values.items():
            setattr(self, name, value)

    def get_text_config(self, *args: Any, **kwargs: Any) -> LlamaConfig:
        """A Llama config is its own text config."""
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LlamaConfig) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"LlamaConfig {self.to_dict()}"


def llama_config(values: dict, **overrides: Any):
    """A LlamaConfig from plain values; `rope_theta` becomes `rope_parameters`. transformers'
    own class, or in a child of `kit grade` that runs a chapter with `stand_ins`, this one."""
    from transformers import LlamaConfig

    values = dict(values)
    theta = values.pop("rope_theta", THETA)
    parameters = {"rope_type": "default", "rope_theta": theta}
    return LlamaConfig(**values, rope_parameters=parameters, **overrides)


def stand_in_module(name: str, doc: str, **attributes: Any) -> types.ModuleType:
    """A module named `name` that holds `attributes` alone, as kit grade's child imports it."""
    module = types.ModuleType(name, f"kit grade's stand-in: {doc}")
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)  # find_spec answers
    vars(module).update(attributes)
    return module


def stand_ins() -> dict[str, types.ModuleType]:
    """`transformers` and the module paths of LlamaConfig, each holding this class alone."""
    modules: dict[str, types.ModuleType] = {}
    for name in (
        "transformers",
        "transformers.models",
        "transformers.models.llama",
        "transformers.models.llama.configuration_llama",
    ):
        # transformers.models has no LlamaConfig, in transformers either
        held = {} if name == "transformers.models" else {"LlamaConfig": LlamaConfig}
        module = stand_in_module(name, "LlamaConfig, and nothing else", **held)
        parent, _, child = name.rpartition(".")
        if parent:  # `transformers.models.llama` as an attribute, as an import makes it
            setattr(modules[parent], child, module)
        modules[name] = module
    return modules
