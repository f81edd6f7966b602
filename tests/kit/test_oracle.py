"""The live Hugging Face oracle still produces the frozen snapshot outputs."""

import json

from safetensors import safe_open

from grader.chapters import CHAPTERS
from grader.snapshots import compare_snapshots, snapshot_path


def test_live_oracle_matches_snapshots():
    changes = compare_snapshots()
    assert not changes, (
        "\n".join(changes) + "\nIf the upgrade is intended: `kit snapshots --update`"
    )


def test_snapshot_comparison_notices_a_change(tmp_path, monkeypatch):
    """Tamper with one stored reference: the comparison must report exactly that case."""
    from safetensors.torch import save_file

    import grader.snapshots

    chapter = CHAPTERS[0]
    with safe_open(snapshot_path(chapter), framework="pt") as stored:
        metadata = stored.metadata()
        tensors = {key: stored.get_tensor(key) for key in stored.keys()}  # noqa: SIM118
    name = next(iter(json.loads(metadata["values"])))
    tensors[f"{name}/oracle"] = tensors[f"{name}/oracle"] * 1.01 + 0.01
    save_file(tensors, tmp_path / f"{chapter}.safetensors", metadata=metadata)
    monkeypatch.setattr(grader.snapshots, "SNAPSHOTS", tmp_path)
    monkeypatch.setattr(grader.snapshots, "CHAPTERS", (chapter,))
    changes = compare_snapshots()
    assert len(changes) == 1 and changes[0].startswith(f"{chapter}/{name}:")
