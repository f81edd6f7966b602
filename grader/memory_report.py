"""The table `kit memory` prints, computed with a memory chapter implementation."""

from __future__ import annotations

import argparse

import torch
from rich.table import Table


def gigabytes(n: float) -> str:
    """Bytes as decimal gigabytes, as GPU vendors and Colab quote them."""
    return f"{n / 1e9:,.2f} GB"


def memory_table(impl, name: str, config, dtype, lora, args: argparse.Namespace, meta) -> tuple:
    """The breakdown as a rich table, and a one-line verdict for training and inference."""
    train = impl.training_memory(
        config, dtype, lora=lora, batch_size=args.batch_size, seq_len=args.seq_len
    )
    cache_dtype = torch.bfloat16 if dtype == "4bit" else dtype  # QLoRA computes in bfloat16
    cache = impl.kv_cache_bytes(config, args.batch_size, args.seq_len, cache_dtype)
    setup = (
        f"LoRA r={lora['r']} on {', '.join(lora['target_modules'])}" if lora else "full fine-tuning"
    )
    title = (
        f"{name}: {impl.count_parameters(config):,} parameters, {dtype!s} weights, {setup}, "
        f"AdamW, batch {args.batch_size} × {args.seq_len} tokens"
    )
    table = Table("", "bytes", "", title=title.replace("torch.", ""), title_justify="left")
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
    table.add_row(
        "inference: weights + KV cache",
        f"{train.weights + cache:,}",
        gigabytes(train.weights + cache),
    )
    gpu = args.gpu

    def verdict(label: str, needed: int) -> str:
        if needed <= gpu:
            return (
                f"[green]{label} fits[/] on {gigabytes(gpu)} ({gigabytes(gpu - needed)} to spare)"
            )
        return f"[red]{label} does not fit[/] on {gigabytes(gpu)} ({gigabytes(needed - gpu)} short)"

    lines = [verdict("training", train.total), verdict("inference", train.weights + cache)]
    return table, "\n".join(lines)
