"""Chapter 4, memory: counts and bytes against what Hugging Face, peft and PyTorch allocate.

Models are built on the meta device (shapes, no memory), so the real Llama configurations
are checked to the byte in milliseconds. Training numbers come from the real tensors after
one AdamW step on a small model. Only the activations are an estimate, checked by property.
An item that grades a total lends the learner the parts it is built from (count_parameters and
bytes_per_parameter inside weight_memory_bytes, say) as tables of Hugging Face's answers on the
case (`with_lent`), so that one bug costs only its own part's points.
"""

from __future__ import annotations

import functools
import json

import torch
from hypothesis import strategies as st

from grader import presets, reference
from grader.presets import LINEARS
from grader.probes.config import llama_config
from grader.probes.lending import LENT, entry
from grader.probes.memory import (
    FIELDS,
    probe_bytes_per_parameter,
    probe_count,
    probe_ffn,
    probe_fits,
    probe_kv_cache,
    probe_lora,
    probe_meta_config,
    probe_quantized,
    probe_training,
    probe_weights,
)
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "memory"

HINTS = {
    "ffn": "Start from 4 * dim, take int(2 * hidden / 3), multiply by ffn_dim_multiplier "
    "(int again), then round UP to a multiple of multiple_of.",
    "meta_config": "Map dim, n_layers, n_heads, n_kv_heads (default: n_heads), norm_eps and "
    "rope_theta (default 10000), and derive intermediate_size with ffn_hidden_dim.",
    "lm_head": "Count lm_head (vocab × hidden) unless the embeddings are tied, in which case "
    "it is the embedding matrix and counts once.",
    "gqa": "k_proj and v_proj have num_key_value_heads * head_dim outputs, not "
    "num_attention_heads * head_dim: grouped-query attention.",
    "bias": "LLaMA's linear layers have no biases.",
    "norms": "Count the norms: two RMSNorm weights of hidden_size per layer, and the final one.",
    "count": "Count embed_tokens, per layer q/k/v/o, gate/up/down and two norms, the final "
    "norm, and lm_head unless tied.",
    "dtype_bytes": "float32 takes 4 bytes, bfloat16 and float16 2, int8 1, a 4-bit weight half.",
    "quantized": "Quantize only the decoder's linear layers: half a byte per weight, a float32 "
    "absmax per block and a 16-float code table per matrix (double quantization: a uint8 "
    "absmax, a float32 per 256 blocks, a 256-float table and a float32 offset); the rest in "
    "compute_dtype.",
    "lora_shapes": "Each adapted W (out × in) adds A (r × in) and B (out × r): r * (in + out).",
    "kv_both": "Cache both keys and values: 2 × layers × batch × seq × kv_heads × head_dim.",
    "adam_states": "AdamW keeps two states per trainable parameter (exp_avg and exp_avg_sq).",
    "adam_dtype": "AdamW's states take each parameter's dtype (exp_avg = zeros_like(param)): "
    "2 bytes each for a bfloat16 parameter, not 4.",
    "adam_step": "AdamW also keeps a 4-byte step counter per trainable tensor.",
    "trainable": "Gradients and optimizer states exist only for trainable parameters: with "
    "LoRA, the adapters (float32), not the frozen base.",
    "activations": "The activation estimate grows linearly with the batch size and is positive.",
    "fits": "A breakdown fits when its total is at most the GPU's bytes.",
}

DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def meta_model(values: dict, dtype=torch.float32):
    """LlamaForCausalLM on the meta device: every shape, no memory (a fresh one each call)."""
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        return LlamaForCausalLM(llama_config(values)).to(dtype)


@functools.lru_cache(maxsize=64)
def _cached_meta_model(key: str, dtype: torch.dtype):
    return meta_model(json.loads(key), dtype)


def shared_meta_model(values: dict, dtype=torch.float32):
    """A cached meta-device model, for reading only (the presets are checked many times)."""
    return _cached_meta_model(json.dumps(values, sort_keys=True), dtype)


def config_values(
    heads: int, kv_divisor: int, head_dim: int, layers: int, vocab: int, inner: int, tied: bool
) -> dict:
    """Plain config values for a random shape (kv heads divide heads)."""
    kv_heads = heads // kv_divisor if heads % kv_divisor == 0 else heads
    return {
        "hidden_size": heads * head_dim,
        "intermediate_size": inner,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "vocab_size": vocab,
        "tie_word_embeddings": tied,
    }


def drawn_configs(max_layers: int) -> st.SearchStrategy:
    """Random shapes up to Llama 3 70B's widths; depth is capped, since the closed form is
    linear in it and the real presets cover full depth."""
    return st.builds(
        config_values,
        heads=st.integers(1, 64),
        kv_divisor=st.sampled_from([1, 2, 4, 8]),
        head_dim=st.sampled_from([2, 8, 64, 128]),
        layers=st.integers(1, max_layers),
        vocab=st.integers(3, 260_000),  # above the default bos and eos ids
        inner=st.integers(1, 60_000),
        tied=st.booleans(),
    )


configs = drawn_configs(max_layers=8)


def preset_cases() -> list[Case]:
    return [{"name": name, "config": presets.HF_CONFIGS[name]} for name in presets.HF_CONFIGS]


def described(case: Case) -> str:
    return case.get("name") or f"config {case['config']}"


def expect_equal(actual, expected, what: str, hint: str) -> None:
    """Exact equality for counts and bytes, with both numbers in the message."""
    if isinstance(actual, bool) or not isinstance(actual, int | float) or actual != expected:
        shown = f"{actual:,}" if isinstance(actual, int | float) else repr(actual)
        raise CheckFailed(f"{what} is {shown}, expected {expected:,}. {HINTS[hint]}")


# ---- Meta's params.json ---------------------------------------------------------------------


def meta_ffn(params: dict) -> int:
    """The hidden size of Meta's FeedForward (llama/model.py), for drawn params.json values."""
    hidden = int(2 * 4 * params["dim"] / 3)
    if params.get("ffn_dim_multiplier") is not None:
        hidden = int(params["ffn_dim_multiplier"] * hidden)
    multiple_of = params["multiple_of"]
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


def expected_config(case: Case) -> dict:
    """The published HF config for a named model; for drawn params, what Meta's fields mean."""
    if "name" in case:
        return presets.HF_CONFIGS[case["name"]]
    params = case["params"]
    return {
        "hidden_size": params["dim"],
        "intermediate_size": meta_ffn(params),
        "num_hidden_layers": params["n_layers"],
        "num_attention_heads": params["n_heads"],
        "num_key_value_heads": params.get("n_kv_heads") or params["n_heads"],
        "vocab_size": case["vocab_size"],
        "rms_norm_eps": params["norm_eps"],
        "rope_theta": params.get("rope_theta", 10000.0),
    }


def verify_ffn(case: Case, output: Output) -> None:
    expected = expected_config(case)["intermediate_size"]
    params = case["params"]
    arguments = f"{params['dim']}, {params['multiple_of']}, {params.get('ffn_dim_multiplier')}"
    what = f"ffn_hidden_dim({arguments})"
    expect_equal(output["value"], expected, f"{what} for {case.get('name', 'drawn params')}", "ffn")


def verify_meta_config(case: Case, output: Output) -> None:
    expected = expected_config(case)
    source = case.get("name") or f"params {case['params']}"
    for field in (*FIELDS, "rope_theta"):
        if output[field] != expected[field]:
            raise CheckFailed(
                f"config_from_meta_params for {source}: {field} is {output[field]!r}, "
                f"expected {expected[field]!r}. {HINTS['meta_config']}"
            )


def meta_params(
    heads: int, kv_divisor: int | None, head_dim: int, layers: int, multiple_of: int,
    multiplier: float | None, eps: float, theta: float | None,
) -> dict:  # fmt: skip
    """A drawn params.json: optional fields (n_kv_heads, ffn_dim_multiplier, rope_theta) left out
    as often as given, as in Meta's own files."""
    params = {"dim": heads * head_dim, "n_layers": layers, "n_heads": heads, "norm_eps": eps}
    params |= {"multiple_of": multiple_of, "vocab_size": -1}
    if kv_divisor is not None and heads % kv_divisor == 0:
        params["n_kv_heads"] = heads // kv_divisor
    if multiplier is not None:
        params["ffn_dim_multiplier"] = multiplier
    if theta is not None:
        params["rope_theta"] = theta
    return params


params_cases = st.builds(
    lambda params, vocab: {"params": params, "vocab_size": vocab},
    st.builds(
        meta_params,
        heads=st.integers(1, 128),
        kv_divisor=st.sampled_from([None, 1, 2, 4, 8]),
        head_dim=st.sampled_from([16, 64, 128]),
        layers=st.integers(1, 126),
        multiple_of=st.sampled_from([1, 32, 256, 1024, 4096]),
        multiplier=st.sampled_from([None, 1.0, 1.3, 1.5, 2.0]),
        eps=st.sampled_from([1e-5, 1e-6]),
        theta=st.sampled_from([None, 10000.0, 500000.0]),
    ),
    st.integers(3, 260_000),
)


def named_params() -> list[Case]:
    """Meta's params.json of every preset, with the vocabulary size of its tokenizer."""
    return [
        {"name": name, "params": params, "vocab_size": presets.HF_CONFIGS[name]["vocab_size"]}
        for name, params in presets.META_PARAMS.items()
    ]


# ---- parameters and bytes -------------------------------------------------------------------


def hf_count(values: dict) -> int:
    """LlamaForCausalLM's parameters, tied ones once (as num_parameters() counts)."""
    return shared_meta_model(values).num_parameters()


def count_mistakes(values: dict, count: int) -> str:
    """Which known mistake explains `count`."""
    v = values
    d, vocab, layers = v["hidden_size"], v["vocab_size"], v["num_hidden_layers"]
    head = d // v["num_attention_heads"]
    kv_extra = 2 * layers * d * head * (v["num_attention_heads"] - v["num_key_value_heads"])
    biases = layers * (2 * d + 2 * v["num_key_value_heads"] * head + 2 * v["intermediate_size"] + d)
    expected = hf_count(values)
    candidates = {
        "lm_head": {expected + vocab * d, expected - vocab * d},
        "gqa": {expected + kv_extra} if kv_extra else set(),
        "bias": {expected + biases},
        "norms": {expected - (2 * layers + 1) * d, expected - 2 * layers * d, expected - d},
    }
    return next((hint for hint, counts in candidates.items() if count in counts), "count")


def verify_count(case: Case, output: Output) -> None:
    expected = hf_count(case["config"])
    if output["count"] != expected:
        hint = (
            count_mistakes(case["config"], output["count"])
            if isinstance(output["count"], int)
            else "count"
        )
        expect_equal(output["count"], expected, f"count_parameters for {described(case)}", hint)


def verify_bytes_per_parameter(case: Case, output: Output) -> None:
    for dtype, value in zip(case["dtypes"], output["values"], strict=True):
        expect_equal(value, reference_bytes(dtype), f"bytes_per_parameter({dtype})", "dtype_bytes")


def verify_weights(case: Case, output: Output) -> None:
    model = shared_meta_model(case["config"], getattr(torch, case["dtype"]))
    expected = model.get_memory_footprint(return_buffers=False)
    numel = model.num_parameters()
    hint = "dtype_bytes" if output["bytes"] in {numel * 4, numel * 2, numel} else "count"
    expect_equal(
        output["bytes"], expected, f"weight_memory_bytes({described(case)}, {case['dtype']})", hint
    )


def bnb_layout_bytes(values: dict, blocksize: int, double_quant: bool, compute_dtype) -> int:
    """bitsandbytes' 4-bit layout over HF's module tree (validated against bitsandbytes itself
    in tests/kit/test_memory_oracle.py, where bitsandbytes is installed)."""
    model = shared_meta_model(values)
    quantized, rest = 0, 0
    for name, parameter in model.named_parameters(remove_duplicate=True):
        numel = parameter.numel()
        if ".layers." in name and name.endswith("proj.weight"):
            blocks = -(-numel // blocksize)
            quantized += numel // 2 + 16 * 4  # packed nibbles, the NF4 code table
            quantized += (
                blocks + -(-blocks // 256) * 4 + 256 * 4 + 4 if double_quant else blocks * 4
            )
        else:
            rest += numel
    return quantized + rest * torch.empty(0, dtype=compute_dtype).element_size()


def verify_quantized(case: Case, output: Output) -> None:
    expected = bnb_layout_bytes(
        case["config"], case["blocksize"], case["double_quant"], torch.bfloat16
    )
    what = (
        f"quantized_weight_memory_bytes({described(case)}, blocksize={case['blocksize']}, "
        f"double_quant={case['double_quant']})"
    )
    expect_equal(output["bytes"], expected, what, "quantized")


# ---- LoRA and the cache ---------------------------------------------------------------------


def peft_count(values: dict, r: int, targets: list[str]) -> int:
    """Trainable parameters of peft's LoRA on the meta-device model."""
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(meta_model(values), LoraConfig(r=r, target_modules=targets))
    return model.get_nb_trainable_parameters()[0]


def verify_lora(case: Case, output: Output) -> None:
    expected = peft_count(case["config"], case["r"], list(case["targets"]))
    model = shared_meta_model(case["config"])
    r_times_in = sum(
        case["r"] * module.in_features
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.split(".")[-1] in case["targets"]
    )
    hint = "lora_shapes" if output["count"] == r_times_in else "gqa"
    what = f"lora_parameter_count({described(case)}, r={case['r']}, {list(case['targets'])})"
    expect_equal(output["count"], expected, what, hint)


def lora_case(values: dict, r: int, targets: list[str], name: str | None = None) -> Case:
    return {"config": values, "r": r, "targets": sorted(set(targets)), "name": name}


def kv_cache_case(values: dict, batch: int, seq: int, dtype: str) -> Case:
    case = {"config": values, "batch": batch, "seq": seq, "dtype": dtype}
    return with_lent(case, *LENT_TO_WEIGHTS)


def verify_kv_cache(case: Case, output: Output) -> None:
    """The keys and values HF's DynamicCache actually holds after a forward pass."""
    from transformers import LlamaForCausalLM

    dtype = getattr(torch, case["dtype"])
    torch.manual_seed(0)
    model = LlamaForCausalLM(llama_config(case["config"])).to(dtype).eval()
    ids = torch.randint(0, case["config"]["vocab_size"], (case["batch"], case["seq"]))
    with torch.no_grad():
        cache = model(ids, use_cache=True).past_key_values
    expected = sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers)
    values = case["config"]
    without_gqa = expected * values["num_attention_heads"] // values["num_key_value_heads"]
    hint = "gqa" if output["bytes"] == without_gqa else "kv_both"
    what = f"kv_cache_bytes for batch {case['batch']}, {case['seq']} tokens, {case['dtype']}"
    expect_equal(output["bytes"], expected, what, hint)


# ---- training -------------------------------------------------------------------------------


def training_case(values: dict, dtype: str, lora: dict | None, seed: int = 0) -> Case:
    case = {"config": values, "dtype": dtype, "lora": lora, "seed": seed}
    return with_lent(case, *LENT_TO_TRAINING)


def real_training_bytes(case: Case) -> dict[str, int]:
    """Bytes of parameters, gradients and AdamW state after one real step (peft for LoRA)."""
    from transformers import LlamaForCausalLM

    dtype = getattr(torch, case["dtype"])
    torch.manual_seed(case["seed"])
    with reference.built_in(dtype):
        model = LlamaForCausalLM(llama_config(case["config"]))
    if case["lora"] is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(**case["lora"]))
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    ids = torch.randint(0, case["config"]["vocab_size"], (1, 16))
    model(ids, labels=ids).loss.backward()
    optimizer.step()
    return {
        "weights": sum(p.nbytes for p in model.parameters()),
        "gradients": sum(p.grad.nbytes for p in model.parameters() if p.grad is not None),
        "optimizer_states": sum(
            value.nbytes
            for state in optimizer.state.values()
            for value in state.values()
            if isinstance(value, torch.Tensor)
        ),
        "tensors": len(trainable),
        "trainable_bytes": sum(p.nbytes for p in trainable),
        "element_size": trainable[0].element_size(),
    }


def verify_training(case: Case, output: Output) -> None:
    real = real_training_bytes(case)
    setup = f"{'LoRA' if case['lora'] else 'full'} fine-tuning in {case['dtype']}"
    expect_equal(
        output["weights"],
        real["weights"],
        f"weights for {setup}",
        "trainable" if case["lora"] else "count",
    )
    expect_equal(output["gradients"], real["gradients"], f"gradients for {setup}", "trainable")
    states = output["optimizer_states"]
    in_float32 = 4 * real["trainable_bytes"] // real["element_size"]  # one state, as float32
    hint = {
        2 * in_float32 + 4 * real["tensors"]: "adam_dtype",
        real["trainable_bytes"] + 4 * real["tensors"]: "adam_states",
        real["trainable_bytes"]: "adam_states",
        2 * real["trainable_bytes"]: "adam_step",
    }.get(states, "trainable")
    expect_equal(states, real["optimizer_states"], f"optimizer_states for {setup}", hint)
    one, two = output["activations"], output["activations_batch_2"]
    if not (isinstance(one, int | float) and one > 0 and two == 2 * one):
        raise CheckFailed(
            f"activations are {one!r} for batch 1 and {two!r} for batch 2. {HINTS['activations']}"
        )


def verify_fits(case: Case, output: Output) -> None:
    total = sum(case["parts"])
    for gpu, answer in zip(case["gpus"], output["fits"], strict=True):
        if answer is not (total <= gpu):
            raise CheckFailed(
                f"fits says {answer!r} for {total:,} bytes on a {gpu:,}-byte GPU. {HINTS['fits']}"
            )


# ---- the parts lent to items that grade another part ---------------------------------------

# What a count depends on: a lent table's config entry, which matches a config with these
# attributes (`grader.probes.lending`).
SHAPE_FIELDS = (
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "vocab_size", "tie_word_embeddings", "head_dim",
)  # fmt: skip
EVERY_DTYPE = (*DTYPES, torch.int8, "4bit")
# What the items that grade a total are lent: the parts that total is built from.
LENT_TO_WEIGHTS = ("count_parameters", "bytes_per_parameter")  # and to kv_cache_bytes
LENT_TO_QUANTIZED = (*LENT_TO_WEIGHTS, "weight_memory_bytes")
LENT_TO_TRAINING = (*LENT_TO_QUANTIZED, "lora_parameter_count")


def config_key(values: dict) -> dict:
    """The shape fields of the config these values make, as plain values."""
    config = llama_config(values)
    return {field: getattr(config, field) for field in SHAPE_FIELDS}


def reference_ffn(dim: int, multiple_of: int, ffn_dim_multiplier: float | None) -> int:
    """Meta's FeedForward width, behind the exercise's signature."""
    return meta_ffn(
        {"dim": dim, "multiple_of": multiple_of, "ffn_dim_multiplier": ffn_dim_multiplier}
    )


def reference_bytes(dtype) -> float:
    """PyTorch's element size; half a byte for "4bit"."""
    return 0.5 if dtype == "4bit" else torch.empty(0, dtype=dtype).element_size()


def footprint(values: dict, dtype) -> int:
    """HF's get_memory_footprint() of the model in dtype."""
    return shared_meta_model(values, dtype).get_memory_footprint(return_buffers=False)


def with_lent(case: Case, *parts: str) -> Case:
    """The case, with tables of Hugging Face's, peft's and PyTorch's answers for `parts` on
    the calls the graded function may make: so that one bug costs only its own points.

    Only the case's own dtype is lent (bfloat16, the compute dtype, for the quantized item):
    a table of every dtype would hand the child the whole answer to bytes_per_parameter.
    """
    values = case.get("config")
    key = config_key(values) if values else None  # what a config argument is matched on
    params, lora = case.get("params"), case.get("lora")
    dtype = getattr(torch, case["dtype"]) if "dtype" in case else torch.bfloat16
    lenders = {
        "ffn_hidden_dim": lambda: [
            entry(
                reference_ffn,
                params["dim"], params["multiple_of"], params.get("ffn_dim_multiplier"),
            )
        ],
        "count_parameters": lambda: [((key,), hf_count(values))],
        "bytes_per_parameter": lambda: [entry(reference_bytes, dtype)],
        "weight_memory_bytes": lambda: [((key, dtype), footprint(values, dtype))],
        "lora_parameter_count": lambda: [
            ((key, lora["r"], lora["target_modules"]),
             peft_count(values, lora["r"], lora["target_modules"]))
        ] if lora else [],
    }  # fmt: skip
    return {**case, LENT: {part: lenders[part]() for part in parts}}


# ---- the graded items -----------------------------------------------------------------------

SMALL = config_values(4, 2, 8, 2, 64, 48, False)
SMALL_TIED = config_values(2, 1, 8, 1, 40, 24, True)
QLORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
targets = st.lists(st.sampled_from([*LINEARS, "lm_head"]), min_size=1, max_size=8)
# Models that really run (the cache and a training step): a few heads of width 2 or 8.
tiny_configs = st.builds(
    config_values,
    heads=st.integers(1, 4),
    kv_divisor=st.sampled_from([1, 2, 4]),
    head_dim=st.sampled_from([2, 8]),
    layers=st.integers(1, 2),
    vocab=st.integers(3, 64),
    inner=st.integers(1, 32),
    tied=st.booleans(),
)

register(
    Item(
        "memory_ffn",
        CHAPTER,
        points=1,
        title="ffn_hidden_dim gives every published intermediate_size from params.json",
        probe=probe_ffn,
        verify=verify_ffn,
        examples=named_params,
        strategy=params_cases,
    ),
    Item(
        "memory_meta_config",
        CHAPTER,
        points=1,
        title="config_from_meta_params matches the published Hugging Face configs",
        probe=probe_meta_config,
        verify=verify_meta_config,
        examples=lambda: [with_lent(case, "ffn_hidden_dim") for case in named_params()],
        strategy=params_cases.map(lambda case: with_lent(case, "ffn_hidden_dim")),
    ),
    Item(
        "memory_count",
        CHAPTER,
        points=2,
        title="count_parameters equals LlamaForCausalLM's, for real and random configs",
        probe=probe_count,
        verify=verify_count,
        examples=preset_cases,
        strategy=st.builds(lambda values: {"config": values}, configs),
    ),
    Item(
        "memory_bytes_per_parameter",
        CHAPTER,
        points=1,
        title="bytes_per_parameter for float32, bfloat16, float16, int8 and 4-bit",
        probe=probe_bytes_per_parameter,
        verify=verify_bytes_per_parameter,
        examples=lambda: [{"dtypes": list(EVERY_DTYPE)}],
        strategy=st.builds(lambda dtypes: {"dtypes": dtypes}, st.permutations(EVERY_DTYPE)),
    ),
    Item(
        "memory_weights",
        CHAPTER,
        points=2,
        title="weight_memory_bytes equals get_memory_footprint() in each dtype",
        probe=probe_weights,
        verify=verify_weights,
        examples=lambda: [
            with_lent({**case, "dtype": str(dtype).removeprefix("torch.")}, *LENT_TO_WEIGHTS)
            for case in preset_cases()
            for dtype in DTYPES
        ],
        strategy=st.builds(
            lambda values, dtype: with_lent({"config": values, "dtype": dtype}, *LENT_TO_WEIGHTS),
            configs,
            st.sampled_from(["float32", "bfloat16", "float16"]),
        ),
    ),
    Item(
        "memory_quantized",
        CHAPTER,
        points=2,
        title="quantized_weight_memory_bytes follows bitsandbytes' NF4 layout to the byte",
        probe=probe_quantized,
        verify=verify_quantized,
        examples=lambda: [
            with_lent({**case, "blocksize": 64, "double_quant": dq}, *LENT_TO_QUANTIZED)
            for case in preset_cases()
            for dq in (False, True)
        ],
        strategy=st.builds(
            lambda values, blocksize, dq: with_lent(
                {"config": values, "blocksize": blocksize, "double_quant": dq}, *LENT_TO_QUANTIZED
            ),
            configs,
            st.sampled_from([64, 128, 256]),
            st.booleans(),
        ),
    ),
    Item(
        "memory_lora",
        CHAPTER,
        points=2,
        title="lora_parameter_count equals peft's trainable parameters",
        probe=probe_lora,
        verify=verify_lora,
        examples=lambda: [
            lora_case(presets.HF_CONFIGS["llama-3-8b"], 32, QLORA_TARGETS, "llama-3-8b"),
            lora_case(
                presets.HF_CONFIGS["llama-3.2-1b"], 16, [*QLORA_TARGETS, "lm_head"], "llama-3.2-1b"
            ),
            lora_case(presets.HF_CONFIGS["llama-3.2-1b"], 8, list(LINEARS), "llama-3.2-1b"),
        ],
        strategy=st.builds(lora_case, drawn_configs(max_layers=2), st.integers(1, 64), targets),
    ),
    Item(
        "memory_kv_cache",
        CHAPTER,
        points=1,
        title="kv_cache_bytes equals the keys and values in HF's DynamicCache",
        probe=probe_kv_cache,
        verify=verify_kv_cache,
        examples=lambda: [
            kv_cache_case(SMALL, 2, 7, "float32"),
            kv_cache_case(SMALL_TIED, 1, 5, "bfloat16"),
        ],
        strategy=st.builds(
            kv_cache_case,
            tiny_configs,
            st.integers(1, 3),
            st.integers(1, 9),
            st.sampled_from(["float32", "bfloat16", "float16"]),
        ),
        max_examples=10,
    ),
    Item(
        "memory_training",
        CHAPTER,
        points=3,
        title="weights, gradients and AdamW states equal the real tensors after one step",
        probe=probe_training,
        verify=verify_training,
        examples=lambda: [
            training_case(SMALL, "float32", None),
            training_case(SMALL_TIED, "bfloat16", None),
            training_case(SMALL, "float32", {"r": 4, "target_modules": QLORA_TARGETS}),
            training_case(
                SMALL, "bfloat16", {"r": 2, "target_modules": ["q_proj", "v_proj", "lm_head"]}
            ),
        ],
        strategy=st.builds(
            training_case,
            tiny_configs,
            st.sampled_from(["float32", "bfloat16"]),
            st.one_of(
                st.none(),
                st.builds(
                    lambda r, targets: {"r": r, "target_modules": targets},
                    st.integers(1, 4),
                    st.lists(st.sampled_from(LINEARS), min_size=1, unique=True),
                ),
            ),
            st.integers(0, 2**32 - 1),
        ),
        max_examples=5,
    ),
    Item(
        "memory_fits",
        CHAPTER,
        points=1,
        title="fits compares the total with the GPU's memory",
        probe=probe_fits,
        verify=verify_fits,
        examples=lambda: [{"parts": [10, 20, 30, 40], "gpus": [99, 100, 101]}],
        strategy=st.builds(
            lambda parts, gpus: {"parts": parts, "gpus": gpus},
            st.lists(st.integers(0, 2**40), min_size=4, max_size=4),
            st.lists(st.integers(0, 2**42), min_size=1, max_size=3),
        ),
    ),
)
