"""kit grade's lent parts (grader/probes/parts) compute what transformers' modules compute, to
the bit, in every dtype the llama items use: a learner's class graded beside them gets the
same verdict in the grader as beside HF's modules in their own pytest."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import reference
from grader.checks import llama
from grader.checks.attention import real_tokens
from grader.probes.parts import attention, decoder, mlp, rmsnorm

DTYPES = st.sampled_from([torch.float32, torch.bfloat16, torch.float16])


def same(ours: torch.nn.Module, theirs: torch.nn.Module, state_dict: dict, dtype) -> None:
    """Load the same weights into both, in `dtype`."""
    for module in (ours, theirs):
        module.load_state_dict(state_dict)
        module.to(dtype).eval()


@settings(max_examples=60, deadline=None)
@given(llama.configs, DTYPES)
def test_the_decoder_layer_is_hf_to_the_bit(case, dtype):
    layer_case = llama.layer_case(case)
    config = llama.llama_config(case["config"])
    ours, theirs = decoder.DecoderLayer(config), reference.DecoderLayer(config)
    same(ours, theirs, layer_case["state_dict"], dtype)
    x, extra = layer_case["x"].to(dtype), llama.given(layer_case)
    with torch.no_grad():
        mine, hf = ours(x, **extra), theirs(x, **extra)
    # padding positions are not graded (HF's may even overflow there)
    assert torch.equal(real_tokens(layer_case, mine), real_tokens(layer_case, hf))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_attention_mlp_and_norm_alone_are_hf_to_the_bit(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 16, generator=g).to(dtype)
    position_ids = torch.tensor([[0, 1, 2, 4, 7], [0, 0, 1, 2, 3]])
    attention_mask = torch.tensor([[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]])
    for ours, theirs, kwargs in (
        (attention.Attention(16, 4, 2, 500000.0), reference.Attention(16, 4, 2, 500000.0), {}),
        (mlp.MLP(16, 40), reference.MLP(16, 40), {}),
        (rmsnorm.RMSNorm(16, eps=0.05), reference.RMSNorm(16, eps=0.05), {}),
    ):
        state = {k: torch.randn(v.shape, generator=g) for k, v in theirs.state_dict().items()}
        same(ours, theirs, state, dtype)
        if isinstance(ours, attention.Attention):
            kwargs = {"position_ids": position_ids, "attention_mask": attention_mask}
        with torch.no_grad():
            mine, hf = ours(x, **kwargs), theirs(x, **kwargs)
        real = attention_mask.bool()  # padding positions are not graded
        assert torch.equal(mine[real], hf[real]), type(ours).__name__
