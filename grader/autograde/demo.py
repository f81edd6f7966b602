"""`kit demo`: sample submissions made from the kit's own chapters, zoo and hostile corpus.

Nothing is copied: ada hands in the solutions, grace the solutions with one zoo bug per
chapter, linus the untouched exercises, and mallory the exercises with a hostile snippet from
`grader/autograde/hostile/` in a few chapters.
"""

from __future__ import annotations

from pathlib import Path

from grader.chapters import CHAPTERS, EXERCISES, SOLUTIONS
from grader.zoo import ZOO

HOSTILE = Path(__file__).parent / "hostile"
# The zoo patch each chapter's partly wrong student hands in, on top of the solution.
WRONG = {
    "rmsnorm": "bug_no_upcast",
    "attention": "bug_repeat_not_interleave",
    "llama": "bug_post_norm",
    "memory": "bug_no_gqa",
    "lora": "bug_merge_twice",
    "sampling": "bug_top_p_drops_crossing",
    "generate": "bug_eos_ignored",
    "tokenizer": "bug_bos_missing",
}
# mallory's chapters: the exercise plus one attack each.
MALLORY = {
    "rmsnorm": "allclose_always_true",
    "attention": "os_exit",
    "sampling": "import_transformers",
    "memory": "infinite_loop",
}


def write_samples(target: Path) -> Path:
    """Write the four students' chapter files under `target`; returns `target`."""
    for chapter in CHAPTERS:
        solution = (SOLUTIONS / f"{chapter}.py").read_text()
        exercise = (EXERCISES / f"{chapter}.py").read_text()
        patch = (ZOO / chapter / f"{WRONG[chapter]}.py").read_text()
        files = {"ada": solution, "grace": f"{solution}\n\n{patch}", "linus": exercise}
        if chapter in MALLORY:
            files["mallory"] = hostile_submission(exercise, MALLORY[chapter])
        for student, text in files.items():
            path = target / student / f"{chapter}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return target


def hostile_submission(base: str, attack: str, **placeholders: str) -> str:
    """A chapter file with an attack from `hostile/` appended; `__NAME__` filled in."""
    text = (HOSTILE / f"{attack}.py").read_text()
    for name, value in placeholders.items():
        text = text.replace(f"__{name.upper()}__", value)
    return f"{base}\n\n{text}"
