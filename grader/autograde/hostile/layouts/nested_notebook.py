"""A notebook of 100k nested `[`: the JSON parser recurses past its limit."""

from pathlib import Path

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student).mkdir()
    (root / student / "rmsnorm.ipynb").write_text("[" * 100_000)
