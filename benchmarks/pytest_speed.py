"""How much a learner's `pytest` run for one chapter costs over the import floor.

Measured in one run, alternating the commands so that both see the same machine state:
- the floor: `python -c "import torch, transformers"`;
- the floor plus the Llama modules the oracle needs (transformers imports them lazily);
- `pytest --impl solutions -m rmsnorm` (all items passing: the slowest case; a stub fails fast).
Run: `nox -s benchmark` or `python benchmarks/pytest_speed.py [--repeat N]`.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "import torch, transformers": [sys.executable, "-c", "import torch, transformers"],
    "+ the Llama modules": [
        sys.executable,
        "-c",
        "import torch, transformers.models.llama.modeling_llama",
    ],
    "pytest -m rmsnorm (solutions)": [
        sys.executable,
        "-m",
        "pytest",
        "--impl",
        "solutions",
        "-m",
        "rmsnorm",
        "-q",
        "-p",
        "no:cacheprovider",
    ],
}


def wall_time(command: list[str]) -> float:
    """Seconds one run of the command takes; a failing command is an error."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for command in COMMANDS.values():  # warm the file cache once
        wall_time(command)
    times = {name: [] for name in COMMANDS}
    for _ in range(args.repeat):
        for name, command in COMMANDS.items():
            times[name].append(wall_time(command))
    floor = statistics.median(times["import torch, transformers"])
    table = Table("command", "median s", "ratio to the floor", title=f"{args.repeat} runs each")
    for name, samples in times.items():
        median = statistics.median(samples)
        table.add_row(name, f"{median:.2f}", f"{median / floor:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
