"""A student folder that is itself a symlink to a classmate's folder."""

from pathlib import Path

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student).symlink_to(victim)
