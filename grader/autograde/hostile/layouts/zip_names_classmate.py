"""Inside one's own zip, a file named as a classmate's attempt (the stub, to give them 0)."""

import zipfile
from pathlib import Path

from grader.chapters import EXERCISES

LAYOUT = "zips"


def build(root: Path, student: str, victim: str) -> None:
    """Lay out this attack as `student`'s hand-in under `root`."""
    name = f"rmsnorm_{victim}_attempt_2099-01-01-00-00-00_rmsnorm.py"
    with zipfile.ZipFile(root / f"{student}.zip", "w") as archive:
        archive.writestr(name, (EXERCISES / "rmsnorm.py").read_text())
