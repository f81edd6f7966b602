"""A chapter folder that is a symlink to a classmate's folder: `rmsnorm -> ../ada`."""

from pathlib import Path

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student).mkdir()
    (root / student / "rmsnorm").symlink_to(f"../{victim}")
