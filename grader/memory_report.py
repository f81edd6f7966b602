"""What `kit memory` prints, computed with a memory chapter implementation.

Every problem with the model named on the command line is a `ValueError` whose message says
what is wrong and how to fix it, in one line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from rich.table import Table

from grader.presets import HF_CONFIGS
from grader.probes.config import llama_config

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
LABELS = {"4bit": "4-bit (QLoRA)"}  # NF4 with double quantization, as QLoRA trains
# The fields of a config.json that decide a model's size: required, then optional.
CONFIG_REQUIRED = (
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
)  # fmt: skip
CONFIG_OPTIONAL = ("num_key_value_heads", "tie_word_embeddings", "rope_theta")
META_REQUIRED = ("dim", "multiple_of", "n_layers", "n_heads", "norm_eps", "vocab_size")


def gigabytes(n: float) -> str:
    """Bytes as decimal gigabytes, as GPU vendors and Colab quote them."""
    return f"{n / 1e9:,.2f} GB"


def read_model(model: str, impl, vocab_size: int | None) -> tuple[str, object]:
    """The name and LlamaConfig of a preset, a config.json or a params.json."""
    if model in HF_CONFIGS:
        return model, llama_config(HF_CONFIGS[model])
    path = Path(model)
    if not path.is_file():
        raise ValueError(
            f"{model} is neither a preset ({', '.join(HF_CONFIGS)}) nor a config.json / "
            "params.json file"
        )
    try:
        values = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{model} is not valid JSON ({error}): fix the file") from None
    if not isinstance(values, dict):
        raise ValueError(f"{model} holds a JSON {type(values).__name__}, not a config object")
    if "dim" in values:  # Meta's params.json
        require(model, values, META_REQUIRED, "Meta's params.json")
        vocab = values["vocab_size"] if values["vocab_size"] > 0 else vocab_size
        if not vocab:
            raise ValueError(f"{model} has vocab_size {values['vocab_size']}: pass --vocab-size")
        return path.name, impl.config_from_meta_params(values, vocab)
    require(model, values, CONFIG_REQUIRED, "a Hugging Face config.json")
    chosen = {k: values[k] for k in CONFIG_REQUIRED + CONFIG_OPTIONAL if k in values}
    return path.name, llama_config(chosen)


def require(model: str, values: dict, keys: tuple[str, ...], kind: str) -> None:
    """Refuse a config with missing keys: a default would describe a different model."""
    missing = [key for key in keys if key not in values]
    if missing:
        raise ValueError(f"{model} lacks {', '.join(missing)}, which {kind} needs: add them")


def dtype_table(impl, name: str, config, lora, args: argparse.Namespace) -> Table:
    """One row per weight dtype: weights, training total and inference, and the GPU verdict."""
    title = f"{name}: {impl.count_parameters(config):,} parameters, {setup(lora, args)}"
    caption = "weights with any adapters; inference: weights + KV cache"
    table = Table("", "weights", "training", "inference", title=title, caption=caption)
    table.title_justify = table.caption_justify = "left"
    if args.gpu is not None:
        table.add_column(f"on {gigabytes(args.gpu)}")
    for column in table.columns[1:4]:
        column.justify = "right"
    for dtype in ("float32", "bfloat16", "4bit"):
        train, inference = needs(impl, config, DTYPES.get(dtype, dtype), lora, args)
        row = [LABELS.get(dtype, dtype), gigabytes(train.weights)]
        row += [gigabytes(train.total), gigabytes(inference)]
        if args.gpu is not None:
            fit = (train.total <= args.gpu, inference <= args.gpu)
            row.append({(True, True): "both fit", (False, False): "neither fits"}.get(
                fit, "inference fits" if fit[1] else "training fits"
            ))  # fmt: skip
        table.add_row(*row)
    return table


def needs(impl, config, dtype, lora, args: argparse.Namespace) -> tuple:
    """The training breakdown, and the bytes inference needs (weights and KV cache)."""
    train = impl.training_memory(
        config, dtype, lora=lora, batch_size=args.batch_size, seq_len=args.seq_len
    )
    cache_dtype = torch.bfloat16 if dtype == "4bit" else dtype  # QLoRA computes in bfloat16
    return train, train.weights + impl.kv_cache_bytes(
        config, args.batch_size, args.seq_len, cache_dtype
    )


def setup(lora, args: argparse.Namespace) -> str:
    """What is trained, how, and on how many tokens."""
    trained = (
        f"LoRA r={lora['r']} on {', '.join(lora['target_modules'])}" if lora else "full fine-tuning"
    )
    return f"{trained}, AdamW, batch {args.batch_size} × {args.seq_len} tokens"


def memory_table(impl, name: str, config, dtype, lora, args: argparse.Namespace) -> tuple:
    """The breakdown for one dtype as a rich table, and a verdict per task if --gpu was given."""
    train, inference = needs(impl, config, dtype, lora, args)
    title = f"{name}: {impl.count_parameters(config):,} parameters, {dtype!s} weights, "
    table = Table("", "bytes", "", title=(title + setup(lora, args)).replace("torch.", ""))
    table.title_justify = "left"
    for label, value in (
        ("weights", train.weights),
        ("gradients", train.gradients),
        ("optimizer states", train.optimizer_states),
        ("activations (estimate)", train.activations),
    ):
        table.add_row(label, f"{value:,}", gigabytes(value))
    table.add_row(
        "[bold]training total", f"[bold]{train.total:,}", f"[bold]{gigabytes(train.total)}"
    )
    table.add_row("inference: weights + KV cache", f"{inference:,}", gigabytes(inference))
    gpu = args.gpu
    if gpu is None:
        return table, ""

    def verdict(label: str, needed: int) -> str:
        if needed <= gpu:
            return (
                f"[green]{label} fits[/] on {gigabytes(gpu)} ({gigabytes(gpu - needed)} to spare)"
            )
        return f"[red]{label} does not fit[/] on {gigabytes(gpu)} ({gigabytes(needed - gpu)} short)"

    return table, "\n".join([verdict("training", train.total), verdict("inference", inference)])
