"""A .py whose one expression has 200k `+ 1` terms: `ast.parse` raises RecursionError."""

from pathlib import Path

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student).mkdir()
    (root / student / "rmsnorm.py").write_text("x = 1" + " + 1" * 200_000 + "\n")
