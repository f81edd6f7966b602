"""What the KV cache buys: generation time without and with it, at a few prompt lengths.

Measured in one run on one model (the chapter 7 `generate` and `forward_with_cache` of
`--impl`, on chapter 3's `Llama` with random weights), alternating the two settings so that
both see the same machine state. Without the cache a step costs more the longer the prefix;
with it a step costs about the same, so the ratio grows with the length.
Run: `nox -s benchmark` or `python benchmarks/kv_cache.py [--impl DIR]`.
"""

import argparse
import functools
import statistics
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from grader.chapters import ROOT, load_chapter
from grader.checks.llama import llama_config

CONFIG = {
    "vocab_size": 512,
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
}


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", type=Path, default=ROOT / "solutions")
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 128, 512])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    chapter = load_chapter(args.impl, "generate")
    torch.manual_seed(0)
    model = chapter.Llama(llama_config(CONFIG)).eval()
    step = functools.partial(chapter.forward_with_cache, model)

    table = Table(title=f"generate: {args.new_tokens} new tokens, median of {args.repeat}")
    for column in ("prompt", "no cache", "cache", "speed-up"):
        table.add_column(column, justify="right")
    for length in args.lengths:
        prompt = torch.randint(0, CONFIG["vocab_size"], (1, length))
        timings = {False: [], True: []}
        with torch.no_grad():
            for _ in range(args.repeat):
                for use_cache in (False, True):
                    run = functools.partial(
                        chapter.generate, step, prompt, args.new_tokens, temperature=0
                    )
                    timings[use_cache].append(
                        seconds(lambda run=run, c=use_cache: run(use_cache=c))
                    )
        plain, cached = (statistics.median(timings[c]) for c in (False, True))
        table.add_row(str(length), f"{plain:.3f} s", f"{cached:.3f} s", f"{plain / cached:.1f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
