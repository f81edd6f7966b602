"""kit grade's lent parts (grader/probes/parts) compute what transformers' modules compute, to
the bit, in every dtype the llama items use: a learner's class graded beside them gets the
same verdict in the grader as beside HF's modules; the LoRA parts are peft's."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import reference
from grader.checks import llama, lora
from grader.checks.attention import real_tokens
from grader.probes.config import llama_config
from grader.probes.parts import attention, decoder, mlp, rmsnorm, sampling
from grader.probes.parts.inject_lora import inject_lora_with
from grader.probes.parts.llama import LlamaForCausalLM
from grader.probes.parts.lora_linear import LoRALinear

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


@settings(max_examples=30, deadline=None)
@given(llama.configs, DTYPES)
def test_the_model_is_hf_to_the_bit(case, dtype):
    """Logits (real tokens) and the next-token loss, tied embeddings or not."""
    ours = LlamaForCausalLM(llama_config(case["config"]))
    ours.load_state_dict(case["state_dict"])
    ours.to(dtype).eval()
    theirs = llama.hf_model(case, dtype)
    ids, extra = case["input_ids"], llama.given(case)
    mask = case.get("attention_mask", torch.ones_like(ids))
    with torch.no_grad():
        mine = ours(ids, **extra)
        hf = theirs(ids, attention_mask=mask, position_ids=case.get("position_ids"))
        assert torch.equal(real_tokens(case, mine.logits), real_tokens(case, hf.logits))
        if "attention_mask" not in case:  # the loss counts padding too
            assert torch.equal(ours(ids, labels=ids).loss, theirs(ids, labels=ids).loss)


def test_lora_parts_are_peft():
    """The lent LoRALinear computes and merges as peft's Linear; the lent inject_lora wraps
    the layers peft's get_peft_model wraps."""
    for case in lora.fixed_layers():
        ours = LoRALinear(
            lora.base_linear(case), case["r"], case["lora_alpha"], 0.0, case["use_rslora"]
        )
        with torch.no_grad():
            ours.lora_A.weight.copy_(case["lora_A"])
            ours.lora_B.weight.copy_(case["lora_B"])
            theirs = lora.peft_layer(case)
            assert torch.equal(ours(case["x"]), theirs(case["x"]))
            ours.merge()
            theirs.merge()
            assert torch.equal(ours.base_layer.weight, theirs.base_layer.weight)
    case = lora.model_case(0, ["q_proj", "down_proj", "lm_head"], 4, 16.0, True, True, 2)
    model = LlamaForCausalLM(llama_config(case["config"]))
    wrapped = inject_lora_with(LoRALinear)(model, case["targets"], 4, 16.0, 0.0, True)
    mine = sorted(name for name, m in wrapped.named_modules() if isinstance(m, LoRALinear))
    peft = lora.peft_model(case)
    from peft.tuners.lora.layer import LoraLayer

    names = (n for n, m in peft.named_modules() if isinstance(m, LoraLayer))
    assert mine == sorted(name.removeprefix("base_model.model.") for name in names)
    assert not [
        name for name, p in wrapped.named_parameters() if p.requires_grad and "lora_" not in name
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.integers(3, 50),
    st.sampled_from([torch.float32, torch.bfloat16, torch.float16]),
    st.sampled_from([0.0, 0.3, 1.0, 1.7]),
    st.none() | st.integers(1, 60),
    st.none() | st.floats(0.0, 1.0),
)
def test_the_sampler_draws_what_hfs_warpers_draw(seed, vocab, dtype, temperature, top_k, top_p):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(64, vocab, generator=g) * 3).to(dtype)
    logits[:, :2] = logits[:, 2:3]  # ties at the top-k boundary
    draws = [
        sampler(logits, temperature, top_k, top_p, torch.Generator().manual_seed(seed))
        for sampler in (sampling.sample_next_token, reference.sample_next_token)
    ]
    assert torch.equal(*draws)
