"""A chapter folder that is a symlink to the kit's own solutions: `attention -> <kit>/solutions`."""

from pathlib import Path

from grader.chapters import SOLUTIONS

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student).mkdir()
    (root / student / "attention").symlink_to(SOLUTIONS)
