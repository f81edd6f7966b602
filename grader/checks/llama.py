"""Chapter 3, llama: MLP, decoder layer and the full model against LlamaForCausalLM.

Each item grades one class with every other part lent (`grader.probes.llama`: LLaMA's
modules in plain torch, checked against HF's in tests/kit/test_parts.py), and compares with
LlamaForCausalLM; `llama_own_stack` alone runs the learner's whole stack.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from grader import reference
from grader.checks.attention import first_difference, gapped_positions, left_padding, real_tokens
from grader.compare import (
    Tolerance,
    describe,
    expect_close,
    first_match,
    is_close,
    max_error,
    per_case,
)
from grader.probes.llama import (
    NAMES,
    given,
    probe_layer,
    probe_mlp,
    probe_model,
    probe_own_stack,
    probe_structure,
    traced,
)
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
    "names": NAMES,
    "same_norm": "Use two RMSNorms: input_layernorm before attention and "
    "post_attention_layernorm before the MLP, each with its own weight.",
    "layer_theta": "Build self_attn with the config's theta: "
    'rope_theta=config.rope_parameters["rope_theta"].',
    "eps": "Build every RMSNorm with the config's eps: RMSNorm(hidden_size, "
    "eps=config.rms_norm_eps).",
    "positions": "Hand position_ids to every layer (and each layer to its attention): a gap "
    "between positions changes the logits.",
    "padding": "Hand attention_mask to every layer (and each layer to its attention): no "
    "token may attend to padding.",
}
LAYOUTS = ("default", "gaps", "padded")  # how a case gives positions: see config_case

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
    layout: str = "default",
    eps: float = 1e-5,
) -> Case:
    """A small LlamaConfig (as plain values), random weights with O(1) activations, and ids.

    layout: "default" (no positions given), "gaps" (increasing position_ids with gaps), or
    "padded" (a left-padded batch with HF's attention_mask and the positions generate builds).
    """
    kv_heads = heads // kv_divisor if heads % kv_divisor == 0 else heads
    config = {
        "vocab_size": vocab,
        "hidden_size": heads * head_dim,
        "intermediate_size": 3 * heads * head_dim,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "rope_theta": theta,
        "rms_norm_eps": eps,
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
    case = {
        "config": config,
        "state_dict": state_dict,
        "input_ids": torch.randint(0, vocab, (batch, seq), generator=g),
    }
    if layout == "gaps":
        case["position_ids"] = gapped_positions(g, batch, seq)
    elif layout == "padded":
        case["attention_mask"] = left_padding(g, batch, seq)
        case["position_ids"] = (case["attention_mask"].cumsum(-1) - 1).clamp(min=0)
    return case


def inputs(case: Case) -> str:
    """A case's positions and mask in words, to append to a message ("" when none given)."""
    return "".join(f", {name} {value.tolist()}" for name, value in given(case).items())


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
    return hf_logits(hf_model(case, getattr(torch, dtype)), case)


def hf_logits(model, case: Case) -> torch.Tensor:
    """HF's logits for the case's ids, positions and mask (all ones where none is given)."""
    mask = case.get("attention_mask", torch.ones_like(case["input_ids"]))  # never "packed"
    with torch.no_grad():
        return model(
            case["input_ids"], attention_mask=mask, position_ids=case.get("position_ids")
        ).logits


def shape_of(config: dict) -> str:
    """A config in a few words, for messages."""
    return (
        f"{config['num_hidden_layers']} layers, {config['num_attention_heads']} heads, "
        f"{config['num_key_value_heads']} kv heads, vocab {config['vocab_size']}, "
        f"rms_norm_eps={config['rms_norm_eps']:g}, rope_theta={config['rope_theta']:g}, "
        f"tied={config['tie_word_embeddings']}"
    )


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
        **given(case),
        "config": case["config"],
        "state_dict": {
            k.removeprefix(prefix): v for k, v in case["state_dict"].items() if k.startswith(prefix)
        },
        "x": torch.randn(*case["input_ids"].shape, hidden, generator=g) * 2,
    }


def reference_layer(case: Case, **changes) -> torch.nn.Module:
    """reference.DecoderLayer with the case's weights, its config changed by `changes`."""
    layer = reference.DecoderLayer(llama_config({**case["config"], **changes})).eval()
    layer.load_state_dict(case["state_dict"])
    return layer


def layer_mistakes(case: Case):
    """What the usual mistakes in DecoderLayer return on the case (each run on request)."""
    layer = reference_layer(case)
    config = llama_config(case["config"])
    attention = reference.Attention(
        config.hidden_size, config.num_attention_heads, config.num_key_value_heads,
        config.rope_parameters["rope_theta"],
    )  # fmt: skip
    attention.load_state_dict(layer.self_attn.state_dict())
    norm1, norm2, mlp = layer.input_layernorm, layer.post_attention_layernorm, layer.mlp
    x, extra = case["x"], given(case)

    def attend(h: torch.Tensor, **changes) -> torch.Tensor:
        return attention(h, **{**extra, **changes})

    def post_norm() -> torch.Tensor:
        h = norm1(x + attend(x))
        return norm2(h + mlp(h))

    def no_attention_residual() -> torch.Tensor:
        h = attend(norm1(x))
        return h + mlp(norm2(h))

    def no_mlp_residual() -> torch.Tensor:
        return mlp(norm2(x + attend(norm1(x))))

    def same_norm(norm: torch.nn.Module) -> torch.Tensor:
        h = x + attend(norm(x))
        return h + mlp(norm(h))

    def pre_norm_with(**changes) -> torch.Tensor:
        h = x + attend(norm1(x), **changes)
        return h + mlp(norm2(h))

    yield "pre_norm", post_norm
    yield "residual", no_attention_residual
    yield "residual", no_mlp_residual
    yield "same_norm", lambda: same_norm(norm1)
    yield "same_norm", lambda: same_norm(norm2)
    if case["config"]["rope_theta"] != 10000.0:
        yield "layer_theta", lambda: reference_layer(case, rope_theta=10000.0)(x, **extra)
    yield "eps", lambda: reference_layer(case, rms_norm_eps=1e-6)(x, **extra)
    if "position_ids" in extra:
        yield "positions", lambda: pre_norm_with(position_ids=None)
    if "attention_mask" in extra:
        yield "padding", lambda: pre_norm_with(attention_mask=None)


def verify_layer(case: Case, output: Output) -> None:
    x = case["x"]
    with torch.no_grad():
        expected = real_tokens(case, reference_layer(case)(x, **given(case)))
        actual = real_tokens(case, output["y"])
        tolerance = TOLERANCES[torch.float32]

        def diagnose() -> str:
            mistakes = (
                (hint, lambda wrong=wrong: real_tokens(case, wrong()))
                for hint, wrong in layer_mistakes(case)
            )
            found = first_match(actual, mistakes, tolerance)
            if found:
                return HINTS[found]
            return first_difference(actual, expected, tolerance, ("batch", "position", "feature"))

        where = f"DecoderLayer on {describe(x)}, {shape_of(case['config'])}"
        expect_close(actual, expected, tolerance, where + inputs(case), diagnose)


# ---- the model ------------------------------------------------------------------------------


def model_mistakes(case: Case, dtype: torch.dtype):
    """What the usual mistakes in LlamaModel and Llama return on the case."""
    model = hf_model(case, dtype)
    captured = {}
    model.model.norm.register_forward_pre_hook(lambda _, args: captured.update(h=args[0]))
    hf_logits(model, case)  # fills `captured`
    norm = model.model.norm
    embedding = model.model.embed_tokens.weight

    def default_eps() -> torch.Tensor:
        norm.variance_epsilon = 1e-6  # RMSNorm's default, where the config's was not passed
        return model.lm_head(norm(captured["h"]))

    yield "final_norm", lambda: model.lm_head(captured["h"])
    yield "tie", lambda: norm(captured["h"]) @ embedding.T
    yield "eps", default_eps
    for name, hint in (("position_ids", "positions"), ("attention_mask", "padding")):
        if name in case:
            changed = {k: v for k, v in case.items() if k != name}
            yield hint, lambda changed=changed: oracle(changed)


def verify_model(case: Case, output: Output) -> None:
    expected = per_case(oracle)(case)
    what = (
        f"Llama logits for {describe(case['input_ids'])} ids, {shape_of(case['config'])}"
        + inputs(case)
    )
    tolerance = TOLERANCES[expected.dtype]
    actual, expected = real_tokens(case, output["logits"]), real_tokens(case, expected)

    def diagnose() -> str:
        mistakes = (
            (hint, lambda wrong=wrong: real_tokens(case, wrong()))
            for hint, wrong in model_mistakes(case, expected.dtype)
        )
        found = first_match(actual, mistakes, tolerance)
        if found:
            return HINTS[found]
        return first_difference(actual, expected, tolerance, ("batch", "position", "token"))

    expect_close(actual, expected, tolerance, what, diagnose)


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


def first_divergence(case: Case, output: Output) -> str:
    """The first module, in HF's order, whose output differs from LlamaForCausalLM's module of
    the same name on the same input: where the whole stack goes wrong."""
    model = hf_model(case)
    names, outputs = traced(model, lambda: hf_logits(model, case))
    learner = dict(zip(output["module_names"], output["module_outputs"], strict=True))
    tolerance = TOLERANCES[torch.float32]
    for name, expected in zip(names, outputs, strict=True):
        where = name.removeprefix("model.")
        if where.startswith("layers."):  # "layers.1" is the layer, "layers.1.mlp" a part of it
            _, index, *rest = where.split(".", 2)
            where = ", ".join([f"layer {index}", *rest])
        actual = learner.get(name)
        if actual is None and name.endswith("norm"):  # a projection may run as F.linear
            return f"{where} never ran, though Hugging Face's model calls it on this input."
        if actual is None or actual.shape != expected.shape:
            continue  # a module HF has and the learner's stack does not (rotary_emb, act_fn)
        actual, expected = real_tokens(case, actual), real_tokens(case, expected)
        if max_error(actual, expected, tolerance) > 1:
            error = (actual.double() - expected.double()).abs().nan_to_num(float("inf")).max()
            return (
                f"The first part whose output differs from Hugging Face's on the same input is "
                f"{where} (max difference {error.item():.3g})."
            )
    return "Every module's output matches Hugging Face's; the difference comes after them."


def verify_own_stack(case: Case, output: Output) -> None:
    expected = real_tokens(case, per_case(oracle)(case))
    tolerance = TOLERANCES[torch.float32]
    what = f"your whole stack's logits, {shape_of(case['config'])}{inputs(case)}"
    expect_close(
        real_tokens(case, output["logits"]),
        expected,
        tolerance,
        what,
        lambda: first_divergence(case, output),
    )
    earlier = slice(0, case["input_ids"].shape[1] - 2)
    changed = real_tokens(case, output["logits_changed_future"])
    if not is_close(
        changed[:, earlier], real_tokens(case, output["logits"])[:, earlier], tolerance
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
    layout=st.sampled_from(LAYOUTS),
    eps=st.sampled_from([1e-6, 1e-5, 1e-2]),
)


def tiny() -> Case:
    """Two layers, GQA (4 heads, 2 key/value heads), separate lm_head, positions with gaps,
    an eps large enough (0.05) that RMSNorm's default 1e-6 in its place shows."""
    return config_case(0, 64, 4, 2, 8, 2, False, layout="gaps", eps=0.05)


def tiny_tied() -> Case:
    """One layer, tied embeddings, Llama 3's theta, a left-padded batch."""
    return config_case(1, 48, 2, 1, 8, 1, True, theta=500000.0, layout="padded")


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
        examples=lambda: [layer_case(tiny()), layer_case(tiny_tied())],
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
