"""Chapter 5, lora: LoRA layers, injection, merging and saving, against peft 0.21.

The learner's adapters get the same A and B as peft's (copied in), so outputs must agree;
counts, merged weights and a saved adapter are compared with what peft does and loads.
An item that grades one function runs with the chapter's other parts lent
(`grader.probes.lora`), so one bug costs only its own part's points; `lora_logits` alone runs
the learner's inject_lora and LoRALinear together, and says so in its title.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import torch
from hypothesis import strategies as st

from grader.chapters import one_line
from grader.compare import Tolerance, describe, expect_close, first_match, is_close, per_case
from grader.probes.lora import (
    NAMES,
    base_linear,
    one_hot_rows,
    probe_dropout,
    probe_forward,
    probe_gradients,
    probe_init,
    probe_inject,
    probe_logits,
    probe_merge,
    probe_save,
    probe_training,
    probe_unload,
)
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "lora"
DATA = Path(__file__).resolve().parent.parent / "data" / "json_answers.txt"

HINTS = {
    "scaling": "scaling is lora_alpha / r (lora_alpha / sqrt(r) with use_rslora), not lora_alpha.",
    "a_init": "Initialise lora_A Kaiming-uniform (a = sqrt(5)): with A and B both zero, every "
    "gradient is zero and nothing learns.",
    "b_zero": "Initialise lora_B to zeros, so that the adapted layer starts as the base layer.",
    "frozen": "Freeze the base: requires_grad_(False) on every base parameter; only lora_A "
    "and lora_B train.",
    "dropout_path": "Apply dropout to the LoRA path's input only: base_layer(x) + "
    "lora_B(lora_A(dropout(x))) * scaling.",
    "dropout_input": "Apply dropout to x, the LoRA path's input, not to lora_A's output: "
    "lora_B(lora_A(dropout(x))).",
    "targets": "Wrap only the nn.Linear layers whose name ends in one of target_modules.",
    "names": NAMES,
    "forward": "forward is base_layer(x) + lora_B(lora_A(dropout(x))) * scaling.",
    "count_once": "Count each parameter once: a tied lm_head shares embed_tokens' tensor "
    "(model.parameters() yields it once, named_parameters(remove_duplicate=False) twice).",
    "merge_scaling": "Merge scaling * (B @ A), not B @ A alone.",
    "merge_transpose": "The update is lora_B.weight @ lora_A.weight, of shape (out, in) like "
    "the base weight; not its transpose.",
    "merge_twice": "merge() must do nothing when already merged (check self.merged), and "
    "unmerge() nothing when not merged.",
    "unmerge": "unmerge() subtracts exactly what merge() added.",
    "merge": "merge() adds scaling * (lora_B.weight @ lora_A.weight) to base_layer.weight.",
    "unload": "merge_and_unload merges each LoRALinear, then puts its base_layer (a plain "
    "nn.Linear) back in its place.",
    "save_keys": "Save every lora_A and lora_B weight under its state_dict name prefixed with "
    "'base_model.model.', in adapter_model.safetensors.",
    "save_config": "adapter_config.json needs peft_type LORA, r, lora_alpha, target_modules, "
    "lora_dropout, use_rslora and bias 'none'.",
    "learn": "Train only the parameters that require grad, with AdamW on "
    "model(input_ids, labels=input_ids).loss, and step the optimizer every step.",
}

# Rounding bounds rather than guesses. Measured on 1000 random layers, peft's own merge()
# then unmerge() returns W within 0.91 float32 eps of the largest merged entry; a merge written
# with addmm differs from peft's where W and the update cancel. So a merged weight may differ
# by (r + 2) eps times max|W| + scaling · max(|B| @ |A|), the scale of what is summed.
TOLERANCES = {torch.float32: Tolerance(rtol=1e-5, atol=1e-5)}
EPS = torch.finfo(torch.float32).eps


def update_magnitude(case: Case, scaling: float) -> torch.Tensor:
    """|W| + scaling |B| @ |A|: the size of every term that a merged weight sums."""
    return case["weight"].abs() + scaling * case["lora_B"].abs() @ case["lora_A"].abs()


def weight_tolerance(case: Case, scaling: float) -> Tolerance:
    """(r + 2) eps of the summands' scale."""
    scale = update_magnitude(case, scaling).max().item()
    return Tolerance(rtol=0.0, atol=(case["r"] + 2) * EPS * scale)


ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")


# ---- one layer --------------------------------------------------------------------------------


def layer_case(
    seed: int,
    in_features: int,
    out_features: int,
    r: int,
    alpha: float,
    rslora: bool,
    dropout: float = 0.0,
) -> Case:
    g = torch.Generator().manual_seed(seed)
    return {
        "weight": torch.randn(out_features, in_features, generator=g) / math.sqrt(in_features),
        "lora_A": torch.randn(r, in_features, generator=g) / math.sqrt(in_features),
        "lora_B": torch.randn(out_features, r, generator=g) / math.sqrt(r),
        "x": torch.randn(3, in_features, generator=g),
        "r": r,
        "lora_alpha": alpha,
        "use_rslora": rslora,
        "lora_dropout": dropout,
    }


layer_cases = st.builds(
    layer_case,
    seed=st.integers(0, 2**32 - 1),
    in_features=st.integers(1, 48),
    out_features=st.integers(1, 48),
    r=st.integers(1, 16),
    alpha=st.sampled_from([1.0, 8.0, 16.0, 32.0]),
    rslora=st.booleans(),
)


def peft_layer(case: Case, with_weights: bool = True):
    """peft's lora.Linear around the same base, with the same A and B."""
    from peft import LoraConfig
    from peft.tuners.lora.layer import Linear

    config = LoraConfig(
        r=case["r"],
        lora_alpha=case["lora_alpha"],
        lora_dropout=case["lora_dropout"],
        use_rslora=case["use_rslora"],
    )
    layer = Linear(base_linear(case), "default", config, r=case["r"], lora_alpha=case["lora_alpha"])
    if with_weights:
        with torch.no_grad():
            layer.lora_A["default"].weight.copy_(case["lora_A"])
            layer.lora_B["default"].weight.copy_(case["lora_B"])
    return layer


def verify_init(case: Case, output: Output) -> None:
    expected = peft_layer(case, with_weights=False)
    in_features, r = case["weight"].shape[1], case["r"]
    a, b = output["A"], output["B"]
    if tuple(a.shape) != (r, in_features) or tuple(b.shape) != (case["weight"].shape[0], r):
        raise CheckFailed(
            f"lora_A is {describe(a)} and lora_B {describe(b)}; expected ({r}, {in_features}) "
            f"and ({case['weight'].shape[0]}, {r}). {HINTS['names']}"
        )
    if not math.isclose(output["scaling"], expected.scaling["default"], rel_tol=1e-12):
        raise CheckFailed(
            f"scaling is {output['scaling']:g}, peft's is {expected.scaling['default']:g} for "
            f"r={r}, lora_alpha={case['lora_alpha']:g}, use_rslora={case['use_rslora']}. "
            + HINTS["scaling"]
        )
    if b.count_nonzero():
        raise CheckFailed(f"lora_B is not zero at initialisation. {HINTS['b_zero']}")
    bound = 1 / math.sqrt(in_features)
    if not a.count_nonzero() or a.abs().max() > bound * (1 + 1e-6):
        raise CheckFailed(
            f"lora_A is not uniform in ±1/sqrt(in_features) = ±{bound:.3g}. {HINTS['a_init']}"
        )
    if a.numel() >= 400 and not 0.8 < a.std().item() / (bound / math.sqrt(3)) < 1.2:
        raise CheckFailed(f"lora_A's spread does not look Kaiming-uniform. {HINTS['a_init']}")
    if output["base_trainable"] or not output["lora_trainable"]:
        raise CheckFailed(f"the base layer is trainable or the adapters are not. {HINTS['frozen']}")
    expect_close(
        output["y"],
        case["x"] @ case["weight"].T,
        TOLERANCES[torch.float32],
        "LoRALinear's output at initialisation",
        lambda: HINTS["b_zero"],
    )


def verify_forward(case: Case, output: Output) -> None:
    layer = peft_layer(case).eval()
    x, a, b = case["x"], case["lora_A"], case["lora_B"]
    with torch.no_grad():
        expected = layer(x)
    base = x @ case["weight"].T
    wrong_scalings = {
        case["lora_alpha"],
        1.0,
        case["lora_alpha"] / (case["r"] if case["use_rslora"] else math.sqrt(case["r"])),
    } - {layer.scaling["default"]}
    mistakes = [("scaling", lambda s=s: base + x @ a.T @ b.T * s) for s in sorted(wrong_scalings)]
    tolerance = TOLERANCES[torch.float32]
    what = (
        f"LoRALinear({case['weight'].shape[1]} → {case['weight'].shape[0]}, r={case['r']}) output"
    )
    expect_close(
        output["y"],
        expected,
        tolerance,
        what,
        lambda: HINTS[first_match(output["y"], mistakes, tolerance) or "forward"],
    )


def dropout_after_a(case: Case, x_row: torch.Tensor, delta: torch.Tensor, scaling: float) -> bool:
    """Whether lora_B(dropout(lora_A(x))) reproduces a row's LoRA term: solve B z = delta for
    the r-vector z and see whether each entry is 0 or (A x) / (1 - p)."""
    lora_b = scaling * case["lora_B"]
    if lora_b.shape[0] < lora_b.shape[1]:
        return False  # B z = delta does not determine z
    z = torch.linalg.lstsq(lora_b, delta[:, None]).solution[:, 0]
    kept = case["lora_A"] @ x_row / (1 - case["lora_dropout"])
    dropped_or_kept = torch.isclose(z, torch.zeros_like(z), atol=1e-4) | torch.isclose(
        z, kept, rtol=1e-4, atol=1e-4
    )
    return bool(dropped_or_kept.all()) and torch.allclose(lora_b @ z, delta, atol=1e-4)


def verify_dropout(case: Case, output: Output) -> None:
    base = case["x"] @ case["weight"].T
    tolerance = TOLERANCES[torch.float32]
    if not is_close(output["y_train_at_init"], base, tolerance):
        raise CheckFailed(
            f"with lora_dropout={case['lora_dropout']} in training mode, the output of a fresh "
            f"layer is not the base output. {HINTS['dropout_path']}"
        )
    layer = peft_layer(case)
    x, p, scaling = one_hot_rows(case), case["lora_dropout"], layer.scaling["default"]
    deltas = output["y_train"] - x @ case["weight"].T
    whole = scaling * x @ case["lora_A"].T @ case["lora_B"].T / (1 - p)
    for row, (delta, kept) in enumerate(zip(deltas, whole, strict=True)):
        if not (
            is_close(delta, torch.zeros_like(delta), tolerance) or is_close(delta, kept, tolerance)
        ):
            hint = HINTS["dropout_input"] if dropout_after_a(case, x[row], delta, scaling) else ""
            raise CheckFailed(
                f"in training mode with lora_dropout={p}, an input with one nonzero feature "
                f"(row {row}) gets a LoRA term that is neither 0 nor scaling · B A x / (1 - p): "
                f"max difference {(delta - kept).abs().max().item():.3g}. {hint}".strip()
            )
    with torch.no_grad():
        expected = layer.eval()(case["x"])
    expect_close(
        output["y_eval"],
        expected,
        tolerance,
        "LoRALinear's output in eval mode with dropout",
        lambda: "Dropout must do nothing in eval mode (nn.Dropout does this for you).",
    )


def verify_merge(case: Case, output: Output) -> None:
    layer = peft_layer(case)
    layer.merge()
    expected = layer.base_layer.weight.detach()
    w, delta = case["weight"], case["lora_B"] @ case["lora_A"]
    scaling = layer.scaling["default"]
    mistakes = [("merge_scaling", lambda: w + delta)]
    if delta.shape[0] == delta.shape[1]:
        mistakes.append(("merge_transpose", lambda: w + delta.T * scaling))
    weights = weight_tolerance(case, scaling)
    expect_close(
        output["merged_weight"],
        expected,
        weights,
        "the merged weight",
        lambda: HINTS[first_match(output["merged_weight"], mistakes, weights) or "merge"],
    )
    if not output["flag_merged"] or output["flag_after_unmerge"]:
        raise CheckFailed(
            f"merged should be True after merge() and False after unmerge(). {HINTS['merge_twice']}"
        )
    expect_close(
        output["merged_twice"],
        expected,
        weights,
        "the weight after merge() twice",
        lambda: HINTS["merge_twice"],
    )
    # Both paths round dot products of lengths in_features and r: |error| <= (n + r + 2) eps
    # times the sum of |terms|, (|W| + scaling |B| @ |A|) @ |x|.
    magnitude = update_magnitude(case, scaling) @ case["x"].abs().T
    bound = (w.shape[1] + case["r"] + 2) * EPS * magnitude.max().item()
    expect_close(
        output["y_merged"],
        output["y"],
        Tolerance(rtol=0.0, atol=bound),
        "the merged layer's output against the unmerged one",
        lambda: HINTS["forward"],
    )
    for name in ("restored", "restored_twice"):
        expect_close(
            output[name],
            w,
            weights,
            f"the weight after unmerge() ({name.replace('_', ' ')})",
            lambda: HINTS["unmerge"],
        )


# ---- a model ----------------------------------------------------------------------------------


def model_case(
    seed: int,
    targets: list[str],
    r: int,
    alpha: float,
    rslora: bool,
    tied: bool = False,
    layers: int = 2,
) -> Case:
    """A tiny Llama (its weights), adapter weights for peft's target set, and token ids."""
    values = {
        "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": layers,
        "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": tied,
    }  # fmt: skip
    peft = peft_model(
        {
            "config": values,
            "base": None,
            "targets": targets,
            "r": r,
            "lora_alpha": alpha,
            "use_rslora": rslora,
            "seed": seed,
        }
    )
    g = torch.Generator().manual_seed(seed)
    adapters = {}
    for name, parameter in peft.named_parameters():
        if ".lora_A." in name or ".lora_B." in name:
            learner_name = name.removeprefix("base_model.model.").replace(".default.", ".")
            adapters[learner_name] = torch.randn(parameter.shape, generator=g) / math.sqrt(
                parameter.shape[1]
            )
    base = dict(hf_model(values, seed).state_dict())
    return {
        "config": values, "seed": seed, "targets": sorted(set(targets)), "r": r,
        "lora_alpha": alpha, "use_rslora": rslora, "base": base, "adapters": adapters,
        "input_ids": torch.randint(0, 64, (2, 7), generator=g),
    }  # fmt: skip


def hf_model(values: dict, seed: int):
    from transformers import LlamaForCausalLM

    from grader.probes.config import llama_config

    torch.manual_seed(seed)
    return LlamaForCausalLM(llama_config(values, attn_implementation="eager")).eval()


def peft_model(case: Case):
    """peft's LoRA on the case's base model, adapters loaded where the case has them."""
    from peft import LoraConfig, get_peft_model

    base = hf_model(case["config"], case["seed"])
    if case["base"] is not None:
        base.load_state_dict(case["base"])
    config = LoraConfig(
        r=case["r"],
        lora_alpha=case["lora_alpha"],
        target_modules=list(case["targets"]),
        use_rslora=case["use_rslora"],
    )
    model = get_peft_model(base, config).eval()
    with torch.no_grad():
        for name, tensor in case.get("adapters", {}).items():
            peft_name = "base_model.model." + name.replace(".lora_A.", ".lora_A.default.").replace(
                ".lora_B.", ".lora_B.default."
            )
            model.get_parameter(peft_name).copy_(tensor)
    return model


def verify_inject(case: Case, output: Output) -> None:
    model = peft_model(case)
    trainable, total = model.get_nb_trainable_parameters()
    from peft.tuners.lora.layer import LoraLayer

    wrapped = sorted(
        name.removeprefix("base_model.model.")
        for name, m in model.named_modules()
        if isinstance(m, LoraLayer)
    )
    setup = f"targets {case['targets']}, r={case['r']}"
    if output["wrapped"] != wrapped:
        extra = sorted(set(output["wrapped"]) - set(wrapped))[:2]
        raise CheckFailed(
            f"inject_lora with {setup} wrapped {len(output['wrapped'])} layers, peft "
            f"{len(wrapped)} (e.g. unexpected {extra}). {HINTS['targets']}"
        )
    if output["trainable_base"]:
        raise CheckFailed(f"{output['trainable_base'][0]} is still trainable. {HINTS['frozen']}")
    if (output["trainable"], output["total"]) != (trainable, total):
        repeated = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
        hint = HINTS["count_once"] if output["total"] == repeated != total else ""
        raise CheckFailed(
            f"trainable_parameters gives {output['trainable'], output['total']}, peft's "
            f"get_nb_trainable_parameters() {trainable, total} for {setup}. {hint}".strip()
        )


def oracle(case: Case) -> torch.Tensor:
    """peft's logits for the case (what the snapshots freeze)."""
    with torch.no_grad():
        return peft_model(case)(case["input_ids"]).logits


def verify_logits(case: Case, output: Output) -> None:
    expect_close(
        output["logits"],
        per_case(oracle)(case),
        TOLERANCES[torch.float32],
        f"logits with LoRA on {case['targets']}, r={case['r']}, use_rslora={case['use_rslora']}",
        lambda: HINTS["forward"],
    )


def verify_gradients(case: Case, output: Output) -> None:
    outside = [name for name in output["with_grad"] if ".lora_" not in name]
    if outside:
        raise CheckFailed(f"a gradient reached {outside[0]}. {HINTS['frozen']}")
    if not any(".lora_B." in name for name in output["nonzero_grad"]):
        raise CheckFailed(f"no gradient reaches lora_B at initialisation. {HINTS['a_init']}")


def verify_unload(case: Case, output: Output) -> None:
    if output["kinds"] != ["Linear"]:
        raise CheckFailed(
            f"after merge_and_unload the targeted layers are {output['kinds']}, expected plain "
            f"Linear. {HINTS['unload']}"
        )
    with torch.no_grad():
        expected = peft_model(case).merge_and_unload()(case["input_ids"]).logits
    expect_close(
        output["logits"],
        expected,
        TOLERANCES[torch.float32],
        "logits after merge_and_unload",
        lambda: HINTS["unload"],
    )


def verify_save(case: Case, output: Output) -> None:
    """Load the saved files with PeftModel.from_pretrained: same logits as the learner's model."""
    from peft import PeftModel
    from safetensors.torch import save_file

    expected_names = sorted(f"base_model.model.{name}" for name in case["adapters"])
    if output["names"] != expected_names:
        missing = sorted(set(expected_names) - set(output["names"]))[:1]
        raise CheckFailed(
            f"adapter_model.safetensors lacks {missing or 'nothing'} and has "
            f"{len(output['names'])} tensors, expected {len(expected_names)}. {HINTS['save_keys']}"
        )
    try:
        config = json.loads(output["config"])
    except json.JSONDecodeError:
        raise CheckFailed(f"adapter_config.json is not JSON. {HINTS['save_config']}") from None
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "adapter_config.json").write_text(json.dumps(config))
        save_file(
            dict(zip(output["names"], output["tensors"], strict=True)),
            Path(directory) / "adapter_model.safetensors",
        )
        base = hf_model(case["config"], case["seed"])
        base.load_state_dict(case["base"])
        try:
            model = PeftModel.from_pretrained(base, directory).eval()
        except Exception as error:  # peft's own complaint about the files is the message
            raise CheckFailed(
                f"PeftModel.from_pretrained rejects the adapter: {one_line(error, 120)}. "
                + HINTS["save_config"]
            ) from None
    with torch.no_grad():
        expected = model(case["input_ids"]).logits
    expect_close(
        output["logits"],
        expected,
        TOLERANCES[torch.float32],
        "your model's logits against peft's with your saved adapter",
        lambda: HINTS["save_config"],
    )


def training_case(seed: int) -> Case:
    lines = DATA.read_bytes().splitlines()
    width = max(map(len, lines))
    values = {
        "vocab_size": 256, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": False,
    }  # fmt: skip
    return {
        "config": values, "seed": seed, "base": hf_model(values, seed).state_dict(),
        "targets": ["lm_head", "q_proj", "v_proj"], "r": 8, "lora_alpha": 16.0, "use_rslora": False,
        "input_ids": torch.tensor([list(line.ljust(width, b" ")) for line in lines]),
    }  # fmt: skip


def verify_training(case: Case, output: Output) -> None:
    losses = output["losses"]
    if len(losses) != 20 or not all(math.isfinite(loss) for loss in losses):
        raise CheckFailed(
            f"fine_tune returned {len(losses)} losses for 20 steps (or some are not finite). "
            + HINTS["learn"]
        )
    model = hf_model(case["config"], case["seed"]).train()  # B = 0: LoRA starts as the base
    with torch.no_grad():
        first = model(case["input_ids"], labels=case["input_ids"]).loss.item()
    if not math.isclose(losses[0], first, rel_tol=1e-4):
        raise CheckFailed(
            f"fine_tune's first loss is {losses[0]:.5g}, but the model's loss on input_ids "
            f"before any step is {first:.5g}: return model(input_ids, labels=input_ids).loss "
            "of each step, computed before that step's update."
        )
    for name, tensor in zip(output["base_names"], output["base"], strict=True):
        if not torch.equal(tensor, case["base"][name]):
            raise CheckFailed(f"fine-tuning changed the frozen weight {name}. {HINTS['frozen']}")
    if not output["lora_B_moved"]:
        raise CheckFailed(
            f"lora_B is still zero after fine-tuning: nothing learned. {HINTS['learn']}"
        )
    # The solution gets to 0.50 of the first loss in 20 steps on two seeds; 0.8 leaves room.
    if losses[-1] > 0.8 * losses[0]:
        raise CheckFailed(
            f"the loss went from {losses[0]:.3f} to {losses[-1]:.3f} in 20 steps; expected "
            f"below {0.8 * losses[0]:.3f}. {HINTS['learn']}"
        )


# ---- the graded items -------------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
target_lists = st.lists(
    st.sampled_from([*ATTENTION, "gate_proj", "up_proj", "down_proj", "lm_head"]),
    min_size=1,
    max_size=4,
)
model_cases = st.builds(
    model_case,
    seeds,
    target_lists,
    st.integers(1, 8),
    st.sampled_from([4.0, 16.0]),
    st.booleans(),
    st.booleans(),
    st.integers(1, 2),
)


def fixed_layers() -> list[Case]:
    """A square layer first (a transposed merge only shows there), then GQA-shaped ones."""
    return [
        layer_case(0, 16, 16, 4, 8.0, False),
        layer_case(1, 16, 8, 2, 16.0, True),
        layer_case(2, 24, 8, 8, 16.0, False),
    ]


register(
    Item(
        "lora_layer_init",
        CHAPTER,
        points=2,
        title="LoRALinear starts as the base layer: B zero, A Kaiming-uniform, base frozen, "
        "peft's scaling",
        probe=probe_init,
        verify=verify_init,
        examples=lambda: [
            layer_case(0, 256, 64, 16, 32.0, False),
            layer_case(1, 64, 16, 4, 8.0, True),
        ],
        strategy=layer_cases,
    ),
    Item(
        "lora_layer_forward",
        CHAPTER,
        points=3,
        title="LoRALinear's output equals peft's lora.Linear with the same A and B",
        probe=probe_forward,
        verify=verify_forward,
        examples=fixed_layers,
        strategy=layer_cases,
    ),
    Item(
        "lora_layer_dropout",
        CHAPTER,
        points=1,
        title="dropout acts on the LoRA path only, and not in eval mode",
        probe=probe_dropout,
        verify=verify_dropout,
        examples=lambda: [layer_case(3, 32, 16, 4, 8.0, False, dropout=0.5)],
        strategy=st.builds(
            layer_case,
            seed=seeds,
            in_features=st.integers(1, 48),
            out_features=st.integers(1, 48),
            r=st.integers(1, 16),
            alpha=st.sampled_from([1.0, 8.0, 16.0]),
            rslora=st.booleans(),
            dropout=st.sampled_from([0.1, 0.5, 0.9]),
        ),
    ),
    Item(
        "lora_merge",
        CHAPTER,
        points=2,
        title="merge() equals peft's merged weight, once; unmerge() restores the weight",
        probe=probe_merge,
        verify=verify_merge,
        examples=fixed_layers,
        strategy=layer_cases,
    ),
    Item(
        "lora_inject",
        CHAPTER,
        points=2,
        title="inject_lora wraps peft's layers; trainable_parameters equals peft's count",
        probe=probe_inject,
        verify=verify_inject,
        max_examples=10,
        examples=lambda: [
            model_case(0, list(ATTENTION), 4, 8.0, False),
            model_case(1, ["q_proj", "v_proj", "lm_head"], 2, 16.0, True, tied=True),
        ],
        strategy=model_cases,
    ),
    Item(
        "lora_logits",
        CHAPTER,
        points=2,
        title="whole stack: your inject_lora and LoRALinear together give peft's logits",
        probe=probe_logits,
        verify=verify_logits,
        max_examples=10,
        examples=lambda: [
            model_case(0, list(ATTENTION), 4, 8.0, False),
            model_case(2, ["v_proj", "down_proj"], 3, 16.0, True),
        ],
        strategy=model_cases,
    ),
    Item(
        "lora_gradients",
        CHAPTER,
        points=1,
        title="gradients reach lora_A and lora_B only",
        probe=probe_gradients,
        verify=verify_gradients,
        examples=lambda: [model_case(0, list(ATTENTION), 4, 8.0, False)],
        strategy=model_cases,
        max_examples=5,
    ),
    Item(
        "lora_merge_and_unload",
        CHAPTER,
        points=1,
        title="merge_and_unload gives plain Linear layers and peft's logits",
        probe=probe_unload,
        verify=verify_unload,
        examples=lambda: [
            model_case(0, list(ATTENTION), 4, 8.0, False),
            model_case(4, ["q_proj", "gate_proj", "lm_head"], 2, 8.0, True),
        ],
        strategy=model_cases,
        max_examples=5,
    ),
    Item(
        "lora_save_adapter",
        CHAPTER,
        points=2,
        title="save_adapter writes peft's format: PeftModel.from_pretrained gives the same logits",
        probe=probe_save,
        verify=verify_save,
        examples=lambda: [
            model_case(0, list(ATTENTION), 4, 8.0, False),
            model_case(5, ["k_proj", "lm_head"], 2, 16.0, True, tied=True),
        ],
        strategy=model_cases,
        max_examples=5,
    ),
    Item(
        "lora_training",
        CHAPTER,
        points=2,
        title="fine-tuning lowers the loss, moves only the adapters, keeps the base bit-identical",
        probe=probe_training,
        verify=verify_training,
        examples=lambda: [training_case(0)],
        strategy=st.builds(training_case, seeds),
        max_examples=1,  # 20 AdamW steps per case: one secret seed beyond the example
    ),
)


def snapshot_cases() -> dict[str, Case]:
    """A fixed adapted model whose peft logits are frozen."""
    return {"attention_r4": model_case(0, list(ATTENTION), 4, 8.0, False)}
