"""A student folder named as a spreadsheet formula: refused as a student id, shown inert."""

from pathlib import Path

from grader.chapters import SOLUTIONS

LAYOUT = "folders"
NAME = '=HYPERLINK("http:..127.0.0.1:9",A1)'


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    (root / NAME).mkdir()
    (root / NAME / "rmsnorm.py").write_text((SOLUTIONS / "rmsnorm.py").read_text())
