"""Chapter 3, llama: MLP, decoder layer and the full model against LlamaForCausalLM.

Each item grades one class and binds every other part to the HF-backed reference while it
runs (`Impl.substituted`); `llama_own_stack` alone runs the learner's whole stack.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader import reference
from grader.chapters import one_line
from grader.compare import Tolerance, describe, expect_close, first_match, is_close
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "llama"

HINTS = {
    "silu_gate": "SiLU goes on the gate: down_proj(silu(gate_proj(x)) * up_proj(x)).",
    "activation": "Apply SiLU (torch.nn.functional.silu), not ReLU or GELU, to the gate.",
    "pre_norm": "Normalise before each block, not after: h = x + self_attn(input_layernorm(x)).",
    "residual": "Add each block's output to its input: the residual stream is x + block(norm(x)).",
    "final_norm": "Apply the final norm (model.norm) to the last layer's output, before lm_head.",
    "tie": "With config.tie_word_embeddings, make lm_head.weight the same Parameter as "
    "model.embed_tokens.weight; otherwise give lm_head its own.",
    "names": "Use Hugging Face's names and nesting: model.embed_tokens, model.layers[i]"
    ".{self_attn,mlp,input_layernorm,post_attention_layernorm}, model.norm, lm_head.",
    "model": "Embed the ids, run every layer in order (passing position_ids), apply the "
    "final norm, then lm_head.",
    "own_stack": "Fix the failing items of this chapter and of chapters 1 and 2 first (pytest -m "
    '"rmsnorm or attention"); if they all pass, look at how the parts are wired together.',
}

# From benchmarks/tolerances.py, 200 random configurations per dtype, largest absolute error
# of the logits against LlamaForCausalLM: as graded (every other part the reference) 1.9e-6 in
# float32 and 0 in half precision; the solution's whole stack in its own dtype 1.3e-5
# (float32), 0 (bfloat16), 4.9e-3 (float16). Logits reach about 10, where one bfloat16 ulp is
# 0.06 and one float16 ulp 0.008: a learner who rounds once differently (lm_head in float32,
# say) must pass. Missing the final norm moves logits by 7 or more.
TOLERANCES = {
    torch.float32: Tolerance(rtol=1e-4, atol=1e-4),
    torch.bfloat16: Tolerance(rtol=2e-2, atol=1e-1),
    torch.float16: Tolerance(rtol=1e-2, atol=1e-2),
}
PARTS = ("RMSNorm", "Attention", "MLP", "DecoderLayer")


def config_case(
    seed: int,
    vocab: int,
    heads: int,
    kv_divisor: int,
    head_dim: int,
    layers: int,
    tied: bool,
    theta: float = 10000.0,
    batch: int = 2,
    seq: int = 6,
) -> Case:
    """A small LlamaConfig (as plain values), random weights with O(1) activations, and ids."""
    kv_heads = heads // kv_divisor if heads % kv_divisor == 0 else heads
    config = {
        "vocab_size": vocab,
        "hidden_size": heads * head_dim,
        "intermediate_size": 3 * heads * head_dim,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "rope_theta": theta,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": tied,
    }
    g = torch.Generator().manual_seed(seed)
    state_dict = {}
    for name, shape in hf_shapes(config).items():
        if name == "lm_head.weight" and tied:
            continue  # the same tensor as the embedding, added below
        noise = torch.randn(shape, generator=g)
        state_dict[name] = 1 + 0.1 * noise if len(shape) == 1 else noise / shape[-1] ** 0.5
    if tied:
        state_dict["lm_head.weight"] = state_dict["model.embed_tokens.weight"]
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    return {"config": config, "state_dict": state_dict, "input_ids": ids}


def llama_config(values: dict, dtype=torch.float32):
    """The transformers LlamaConfig for a case's plain values (eager attention)."""
    values = dict(values)
    return reference.config_for(
        values.pop("hidden_size"),
        values.pop("num_attention_heads"),
        values.pop("num_key_value_heads"),
        values.pop("rope_theta"),
        dtype=dtype,
        **values,
    )


def hf_model(case: Case, dtype=torch.float32):
    """LlamaForCausalLM with the case's weights, built in `dtype` (inv_freq stays float32)."""
    from transformers import LlamaForCausalLM

    with reference.built_in(dtype):
        model = LlamaForCausalLM(llama_config(case["config"], dtype)).eval()
    model.load_state_dict(case["state_dict"])
    return model


def hf_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of LlamaForCausalLM, built on the meta device (no memory)."""
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(llama_config(config))
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def oracle(case: Case) -> torch.Tensor:
    """LlamaForCausalLM's logits for the case, in the case's dtype."""
    dtype = case.get("dtype_name", "float32")
    model = hf_model(case, getattr(torch, dtype))
    with torch.no_grad():
        return model(case["input_ids"]).logits


def shape_of(config: dict) -> str:
    """A config in a few words, for messages."""
    return (
        f"{config['num_hidden_layers']} layers, {config['num_attention_heads']} heads, "
        f"{config['num_key_value_heads']} kv heads, vocab {config['vocab_size']}, "
        f"tied={config['tie_word_embeddings']}"
    )


def load_into(model: torch.nn.Module, state_dict: dict, what: str) -> None:
    """load_state_dict(strict=True), failing with the names that do not match."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as error:
        raise CheckFailed(
            f"a Hugging Face state_dict does not load into {what} "
            f"({one_line(error, 140)}). {HINTS['names']}"
        ) from None


# ---- MLP ------------------------------------------------------------------------------------


def mlp_case(seed: int, hidden: int, intermediate: int, dtype=torch.float32) -> Case:
    g = torch.Generator().manual_seed(seed)

    def weight(rows: int, columns: int) -> torch.Tensor:
        return (torch.randn(rows, columns, generator=g) / columns**0.5).to(dtype)

    return {
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "state_dict": {
            "gate_proj.weight": weight(intermediate, hidden),
            "up_proj.weight": weight(intermediate, hidden),
            "down_proj.weight": weight(hidden, intermediate),
        },
        "x": torch.randn(2, 3, hidden, generator=g).to(dtype) * 2,
    }


def probe_mlp(impl, case: Case) -> Output:
    mlp = impl.MLP(case["hidden_size"], case["intermediate_size"]).to(case["x"].dtype)
    load_into(mlp, case["state_dict"], "MLP")
    with torch.no_grad():
        return {"y": mlp(case["x"])}


def verify_mlp(case: Case, output: Output) -> None:
    mlp = reference.MLP(case["hidden_size"], case["intermediate_size"]).to(case["x"].dtype)
    mlp.load_state_dict(case["state_dict"])
    x = case["x"]
    with torch.no_grad():
        expected = mlp(x)
        gate, up = mlp.gate_proj(x), mlp.up_proj(x)
        mistakes = [
            ("silu_gate", lambda: mlp.down_proj(gate * torch.nn.functional.silu(up))),
            ("activation", lambda: mlp.down_proj(torch.relu(gate) * up)),
            ("activation", lambda: mlp.down_proj(torch.nn.functional.gelu(gate) * up)),
        ]
        tolerance = TOLERANCES[x.dtype]
        expect_close(
            output["y"],
            expected,
            tolerance,
            f"MLP({case['hidden_size']}, {case['intermediate_size']}) on {describe(x)}",
            lambda: HINTS[first_match(output["y"], mistakes, tolerance) or "silu_gate"],
        )


# ---- decoder layer --------------------------------------------------------------------------


def layer_case(case: Case) -> Case:
    """Layer 0's weights of a model case, and random hidden states for it."""
    prefix = "model.layers.0."
    g = torch.Generator().manual_seed(int(case["input_ids"].sum()))
    hidden = case["config"]["hidden_size"]
    return {
        "config": case["config"],
        "state_dict": {
            k.removeprefix(prefix): v for k, v in case["state_dict"].items() if k.startswith(prefix)
        },
        "x": torch.randn(*case["input_ids"].shape, hidden, generator=g) * 2,
    }


def probe_layer(impl, case: Case) -> Output:
    parts = {name: getattr(reference, name) for name in ("RMSNorm", "Attention", "MLP")}
    with impl.substituted(parts), torch.no_grad():
        layer = impl.DecoderLayer(llama_config(case["config"]))
        load_into(layer, case["state_dict"], "DecoderLayer")
        return {"y": layer(case["x"])}


def verify_layer(case: Case, output: Output) -> None:
    config = llama_config(case["config"])
    layer = reference.DecoderLayer(config).eval()
    layer.load_state_dict(case["state_dict"])
    x = case["x"]
    attention = reference.Attention(
        config.hidden_size, config.num_attention_heads, config.num_key_value_heads,
        config.rope_parameters["rope_theta"],
    )  # fmt: skip
    attention.load_state_dict(layer.self_attn.state_dict())
    norm1, norm2, mlp = layer.input_layernorm, layer.post_attention_layernorm, layer.mlp
    with torch.no_grad():
        expected = layer(x)

        def post_norm() -> torch.Tensor:
            h = norm1(x + attention(x))
            return norm2(h + mlp(h))

        def no_attention_residual() -> torch.Tensor:
            h = attention(norm1(x))
            return h + mlp(norm2(h))

        def no_mlp_residual() -> torch.Tensor:
            h = x + attention(norm1(x))
            return mlp(norm2(h))

        mistakes = [
            ("pre_norm", post_norm),
            ("residual", no_attention_residual),
            ("residual", no_mlp_residual),
        ]
        tolerance = TOLERANCES[torch.float32]
        expect_close(
            output["y"],
            expected,
            tolerance,
            f"DecoderLayer on {describe(x)}",
            lambda: HINTS[first_match(output["y"], mistakes, tolerance) or "pre_norm"],
        )


# ---- the model ------------------------------------------------------------------------------


def probe_model(impl, case: Case) -> Output:
    """The learner's Llama with every part bound to the reference, in the case's dtype."""
    dtype = getattr(torch, case.get("dtype_name", "float32"))
    with impl.substituted({name: getattr(reference, name) for name in PARTS}):
        model = impl.Llama(llama_config(case["config"])).to(dtype)
        load_into(model, {k: v.to(dtype) for k, v in case["state_dict"].items()}, "Llama")
        with torch.no_grad():
            logits = model(case["input_ids"])
    return {"logits": logits}


def verify_model(case: Case, output: Output) -> None:
    expected = oracle(case)
    what = f"Llama logits for {describe(case['input_ids'])} ids, {shape_of(case['config'])}"

    def diagnose() -> str:
        model = hf_model(case, expected.dtype)
        captured = {}
        model.model.norm.register_forward_pre_hook(lambda _, args: captured.update(h=args[0]))
        with torch.no_grad():
            hidden = model.model(case["input_ids"]).last_hidden_state
        embedding = model.model.embed_tokens.weight
        mistakes = [
            ("final_norm", lambda: model.lm_head(captured["h"])),
            ("tie", lambda: hidden @ embedding.T),
        ]
        return HINTS[first_match(output["logits"], mistakes, TOLERANCES[expected.dtype]) or "model"]

    expect_close(output["logits"], expected, TOLERANCES[expected.dtype], what, diagnose)


def probe_structure(impl, case: Case) -> Output:
    with impl.substituted({name: getattr(reference, name) for name in PARTS}):
        model = impl.Llama(llama_config(case["config"]))
    state = model.state_dict()
    load_error = None
    try:
        model.load_state_dict(case["state_dict"])
    except RuntimeError as error:
        load_error = one_line(error, 140)
    embed, head = getattr(model, "model", None), getattr(model, "lm_head", None)
    tied = (
        embed is not None
        and head is not None
        and getattr(getattr(embed, "embed_tokens", None), "weight", None) is head.weight
    )
    return {
        "names": sorted(state),
        "shapes": [list(state[name].shape) for name in sorted(state)],
        "load_error": load_error,
        "tied": tied,
    }


def verify_structure(case: Case, output: Output) -> None:
    shapes = hf_shapes(case["config"])
    names = sorted(shapes)
    if output["names"] != names:
        missing = sorted(set(names) - set(output["names"]))[:3]
        extra = sorted(set(output["names"]) - set(names))[:3]
        raise CheckFailed(
            f"Llama's state_dict keys differ from LlamaForCausalLM's (missing {missing}, "
            f"unexpected {extra}). {HINTS['names']}"
        )
    for name, shape in zip(names, output["shapes"], strict=True):
        if tuple(shape) != shapes[name]:
            raise CheckFailed(f"{name} has shape {tuple(shape)}, expected {shapes[name]}.")
    if output["load_error"]:
        raise CheckFailed(f"load_state_dict failed: {output['load_error']}. {HINTS['names']}")
    if output["tied"] != case["config"]["tie_word_embeddings"]:
        state = "tied" if output["tied"] else "not tied"
        raise CheckFailed(
            f"lm_head and embed_tokens are {state} for tie_word_embeddings="
            f"{case['config']['tie_word_embeddings']}. {HINTS['tie']}"
        )


def probe_own_stack(impl, case: Case) -> Output:
    """The learner's whole stack, their own chapters included; and a changed-future run."""
    model = impl.Llama(llama_config(case["config"]))
    load_into(model, case["state_dict"], "Llama")
    ids = case["input_ids"]
    changed = ids.clone()
    changed[:, -2:] = (changed[:, -2:] + 1) % case["config"]["vocab_size"]
    with torch.no_grad():
        return {"logits": model(ids), "logits_changed_future": model(changed)}


def verify_own_stack(case: Case, output: Output) -> None:
    expected = oracle(case)
    tolerance = TOLERANCES[torch.float32]
    expect_close(
        output["logits"],
        expected,
        tolerance,
        "your whole stack's logits",
        lambda: HINTS["own_stack"],
    )
    earlier = slice(0, case["input_ids"].shape[1] - 2)
    if not is_close(
        output["logits_changed_future"][:, earlier], output["logits"][:, earlier], tolerance
    ):
        raise CheckFailed(
            "changing the last two tokens changed the logits before them: the model must be causal."
        )


# ---- the graded items -----------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
configs = st.builds(
    config_case,
    seed=seeds,
    vocab=st.integers(8, 96),
    heads=st.integers(1, 4),
    kv_divisor=st.sampled_from([1, 2, 4]),
    head_dim=st.sampled_from([2, 4, 8]),
    layers=st.integers(1, 3),
    tied=st.booleans(),
    theta=st.sampled_from([10000.0, 500000.0]),
    batch=st.integers(1, 2),
    seq=st.integers(3, 8),
)


def tiny() -> Case:
    """Two layers, GQA (4 heads, 2 key/value heads), separate lm_head."""
    return config_case(0, 64, 4, 2, 8, 2, False)


def tiny_tied() -> Case:
    """One layer, tied embeddings, Llama 3's theta."""
    return config_case(1, 48, 2, 1, 8, 1, True, theta=500000.0)


def in_dtype(case: Case, dtype: torch.dtype) -> Case:
    return {**case, "dtype_name": str(dtype).removeprefix("torch.")}


register(
    Item(
        "llama_mlp",
        CHAPTER,
        points=2,
        title="MLP equals LlamaMLP (SwiGLU)",
        probe=probe_mlp,
        verify=verify_mlp,
        examples=lambda: [mlp_case(0, 16, 40)],
        strategy=st.builds(mlp_case, seeds, st.integers(1, 32), st.integers(1, 64)),
    ),
    Item(
        "llama_decoder_layer",
        CHAPTER,
        points=3,
        title="DecoderLayer equals LlamaDecoderLayer (pre-norm residual blocks)",
        probe=probe_layer,
        verify=verify_layer,
        examples=lambda: [layer_case(tiny())],
        strategy=configs.map(layer_case),
    ),
    Item(
        "llama_structure",
        CHAPTER,
        points=1,
        title="Llama's state_dict is LlamaForCausalLM's; tied embeddings share one Parameter",
        probe=probe_structure,
        verify=verify_structure,
        examples=lambda: [tiny(), tiny_tied()],
        strategy=configs,
    ),
    Item(
        "llama_logits",
        CHAPTER,
        points=3,
        title="Llama's logits equal LlamaForCausalLM's in float32",
        probe=probe_model,
        verify=verify_model,
        examples=lambda: [tiny(), tiny_tied()],
        strategy=configs,
    ),
    Item(
        "llama_logits_half",
        CHAPTER,
        points=1,
        title="Llama's logits equal LlamaForCausalLM's built in bfloat16 and float16",
        probe=probe_model,
        verify=verify_model,
        examples=lambda: [in_dtype(tiny(), torch.bfloat16), in_dtype(tiny_tied(), torch.float16)],
        strategy=st.builds(in_dtype, configs, st.sampled_from([torch.bfloat16, torch.float16])),
    ),
    Item(
        "llama_own_stack",
        CHAPTER,
        points=2,
        title="your own RMSNorm, Attention and Llama together equal LlamaForCausalLM",
        probe=probe_own_stack,
        verify=verify_own_stack,
        examples=lambda: [tiny(), tiny_tied()],
        strategy=configs,
    ),
)


def snapshot_cases() -> dict[str, Case]:
    """Fixed tiny models whose LlamaForCausalLM logits are frozen."""
    return {
        "tiny_float32": tiny(),
        "tiny_tied_bfloat16": in_dtype(tiny_tied(), torch.bfloat16),
        "tiny_float16": in_dtype(tiny(), torch.float16),
    }
