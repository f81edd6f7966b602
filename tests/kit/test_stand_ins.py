"""kit grade's stand-in `LlamaConfig` (grader/probes/config.py) is transformers' own, field by
field: a learner's config code gets the same values in the grader as in their own pytest."""

import copy
import dataclasses
import json
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig

from grader.probes import config, lending

heads = st.integers(1, 8)
kwargs = st.fixed_dictionaries(
    {},
    optional={
        "vocab_size": st.integers(3, 260_000),
        "intermediate_size": st.integers(1, 60_000),
        "num_hidden_layers": st.integers(1, 126),
        "rms_norm_eps": st.sampled_from([1e-5, 1e-6]),
        "tie_word_embeddings": st.booleans(),
        "max_position_embeddings": st.integers(16, 8192),
        "rope_theta": st.sampled_from([10000.0, 500000.0]),
        "rope_parameters": st.sampled_from(
            [None, {"rope_type": "default"}, {"rope_type": "default", "rope_theta": 3.0}]
        ),
        "rope_scaling": st.sampled_from([{"rope_type": "default", "rope_theta": 7.0}]),
        "attention_bias": st.booleans(),
        "mlp_bias": st.booleans(),
        "unknown_field": st.integers(),
    },
)


@settings(max_examples=200, deadline=None)
@given(kwargs, heads, st.sampled_from([None, 1, 2, 4]), st.sampled_from([1, 2, 3, 4, 8, 64]))
def test_stand_in_has_the_fields_of_transformers_config(values, heads, kv_divisor, head_dim):
    values = {**values, "hidden_size": heads * head_dim, "num_attention_heads": heads}
    if kv_divisor is not None and heads % kv_divisor == 0:
        values["num_key_value_heads"] = heads // kv_divisor
    # transformers fills in the dicts it is given: each class gets its own copy.
    theirs, ours = LlamaConfig(**copy.deepcopy(values)), config.LlamaConfig(**copy.deepcopy(values))
    for name in [*(field.name for field in dataclasses.fields(ours)), *values]:
        if name != "rope_theta":  # transformers moves it into rope_parameters
            assert getattr(ours, name) == getattr(theirs, name), name
    assert not hasattr(ours, "rope_theta") and not hasattr(theirs, "rope_theta")
    # What a learner may do with a config: copy it with a change, rebuild it from its dict.
    for made in (
        lambda cls, c: dataclasses.replace(c, num_hidden_layers=c.num_hidden_layers + 1),
        lambda cls, c: cls.from_dict(c.to_dict()),
        lambda cls, c: cls(**c.to_dict()),
        lambda cls, c: cls.from_dict(json.loads(c.to_json_string())),
    ):
        theirs_made, ours_made = made(LlamaConfig, theirs), made(config.LlamaConfig, ours)
        for field in dataclasses.fields(ours):
            assert getattr(ours_made, field.name) == getattr(theirs_made, field.name), field.name


@pytest.mark.parametrize(
    "values",
    [
        {"hidden_size": 63, "num_attention_heads": 4},
        {"head_dim": 7},
        {"vocab_size": True},
        {"intermediate_size": 14336.0},
        {"num_key_value_heads": 2.0},
    ],
)
def test_stand_in_refuses_what_transformers_refuses(values):
    with pytest.raises(Exception):  # noqa: B017  (transformers' is a StrictDataclassError)
        LlamaConfig(**values)
    with pytest.raises((ValueError, TypeError)):
        config.LlamaConfig(**values)


def test_stand_ins_answer_every_import_of_llama_config(monkeypatch):
    for name in [n for n in sys.modules if n.split(".")[0] == "transformers"]:
        monkeypatch.delitem(sys.modules, name)  # as in kit grade's child, which never loaded it
    for name, module in config.stand_ins().items():
        monkeypatch.setitem(sys.modules, name, module)
    namespace: dict = {}
    exec(
        "import transformers\n"
        "from transformers import LlamaConfig\n"
        "from transformers.models.llama import LlamaConfig as B\n"
        "from transformers.models.llama.configuration_llama import LlamaConfig as C\n",
        namespace,
    )
    assert namespace["LlamaConfig"] is namespace["B"] is namespace["C"] is config.LlamaConfig
    assert namespace["transformers"].LlamaConfig is config.LlamaConfig
    with pytest.raises(ImportError):
        exec("from transformers import LlamaForCausalLM", {})
    with pytest.raises(ImportError):
        exec("import transformers.models.llama.modeling_llama", {})


def test_a_lent_table_matches_a_config_by_its_fields_only():
    """memory's tables key a config by its shape fields: any config with those values hits,
    one that differs in any of them misses (and goes to the learner's own function)."""
    key = {"hidden_size": 64, "num_attention_heads": 4, "head_dim": 16}
    table = [((key, torch.float32), 123)]
    same = config.LlamaConfig(hidden_size=64, num_attention_heads=4, vocab_size=7)
    assert lending.lookup(table, (same, torch.float32)) == 123
    assert (
        lending.lookup(table, (LlamaConfig(hidden_size=64, num_attention_heads=4), torch.float32))
        == 123
    )
    other = config.LlamaConfig(hidden_size=64, num_attention_heads=4, head_dim=8)
    assert lending.lookup(table, (other, torch.float32)) is None
    assert lending.lookup(table, (same, torch.bfloat16)) is None
    assert lending.lookup(table, (key, torch.float32)) == 123  # a dict is compared as a dict

    class Hostile:
        def __getattr__(self, name):
            raise RuntimeError(name)

        def __eq__(self, other):
            raise RuntimeError("==")

    assert lending.lookup(table, (Hostile(), torch.float32)) is None
    assert lending.lookup([((1,), 2)], (Hostile(),)) is None


def test_a_table_entry_matches_its_input_rounded_otherwise_alone():
    """kit grade's child computes the learner's inputs to a lent part on one thread, the check
    its table on several: an ulp apart still hits, a mistake or a filtered token does not."""
    key = torch.randn(3, 8, generator=torch.Generator().manual_seed(0))
    table = [((key,), torch.ones(1))]
    assert lending.lookup(table, (key * (1 + 2**-22),)) is not None
    assert lending.lookup(table, (key + 1e-3,)) is None
    filtered = key.masked_fill(key < 0, -float("inf"))
    assert lending.lookup([((filtered,), torch.ones(1))], (key,)) is None
    found = lending.lookup([((filtered[:1],), torch.ones(1, 2))], (filtered[:1].expand(4, -1),))
    assert found.shape == (4, 2)
