"""A notebook of 50k empty cells: refused by counting before it is parsed."""

import json
from pathlib import Path

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    cell = {
        "cell_type": "code",
        "metadata": {},
        "source": "",
        "outputs": [],
        "execution_count": None,
    }
    notebook = {"cells": [cell] * 50_000, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (root / student).mkdir()
    (root / student / "rmsnorm.ipynb").write_text(json.dumps(notebook))
