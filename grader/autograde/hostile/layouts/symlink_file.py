"""A chapter file that is a symlink to a classmate's file."""

from pathlib import Path

LAYOUT = "folders"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / student).mkdir()
    (root / student / "rmsnorm.py").symlink_to(f"../{victim}/rmsnorm.py")
