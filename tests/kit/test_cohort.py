"""The cohort report: items.csv and report.html, and their numbers against grades.csv."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from grader import registry
from grader.autograde import cohort, grade
from grader.autograde.demo import WRONG
from grader.autograde.grade import GRADED, TIMED_OUT, ItemResult, Outcome
from grader.chapters import CHAPTERS, SOLUTIONS, load_chapter
from grader.compare import per_case, remembering
from grader.runner import plain
from grader.zoo import ZOO


def outcome(student: str, chapter: str, failing: dict[str, str], status: str = GRADED) -> Outcome:
    """An outcome that fails the items in `failing` (grade_id -> message) and passes the rest."""
    items = []
    for item in registry.items(chapter):
        message = failing.get(item.grade_id, "")
        items.append(ItemResult(item.grade_id, 0 if message else item.points, item.points, message))
    return Outcome(student, chapter, status, items=items if status == GRADED else [])


def reference_impl(chapter: str):
    """The kit's solution of a chapter, as the learner's implementation."""
    return load_chapter(SOLUTIONS, chapter)


def rows_of(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_hint_is_recognised_in_a_failure_message(chapter):
    for key, text in cohort.hints(chapter).items():
        assert cohort.mistake(chapter, f"y differs from the reference by up to 3. {text}") == key
    assert cohort.mistake(chapter, "f is not written yet (it raises ...)") == cohort.NOT_WRITTEN
    assert cohort.mistake(chapter, "forward raised ValueError: no") == cohort.RAISED
    assert cohort.mistake(chapter, "y has shape (2,), expected (3,).") == cohort.UNDIAGNOSED


def test_items_count_passes_points_and_mistakes(tmp_path):
    first, second = (item.grade_id for item in registry.items("sampling")[:2])
    crossing = f"kept the wrong tokens. {cohort.hints('sampling')['crossing']}"
    outcomes = [
        outcome("a", "sampling", {}),
        outcome("b", "sampling", {first: crossing}),
        outcome("c", "sampling", {first: crossing, second: "f raised KeyError"}),
        outcome("d", "sampling", {}, status=TIMED_OUT),
    ]
    stats = {s.grade_id: s for s in cohort.write_cohort(tmp_path, outcomes)}
    assert set(stats) == {item.grade_id for item in registry.items("sampling")}
    points = registry.get(first).points
    assert (stats[first].submissions, stats[first].passed) == (4, 1)
    assert stats[first].mean_points == pytest.approx(points / 4)
    assert stats[first].mistakes == {"crossing": 2, TIMED_OUT: 1}
    assert stats[second].mistakes == {cohort.RAISED: 1, TIMED_OUT: 1}
    rows = {row["grade_id"]: row for row in rows_of(tmp_path / "items.csv")}
    assert rows[first]["passed"] == "1" and rows[first]["top_mistakes"].startswith("crossing (2)")
    assert float(rows[first]["mean_points"]) == pytest.approx(points / 4)
    assert cohort.top_mistakes(list(stats.values()))[0] == ("sampling", "crossing", 2)


def test_a_mistake_made_in_several_items_counts_one_submission():
    first, second = (item.grade_id for item in registry.items("sampling")[:2])
    crossing = f"kept the wrong tokens. {cohort.hints('sampling')['crossing']}"
    outcomes = [
        outcome("a", "sampling", {first: crossing, second: crossing}),
        outcome("b", "sampling", {first: crossing}),
    ]
    stats = cohort.item_stats(outcomes)
    assert cohort.top_mistakes(stats) == [("sampling", "crossing", 2)]


def test_the_report_names_nobody_unless_asked_and_escapes_names(tmp_path):
    name = "<img src=x onerror=alert(1)>"
    outcomes = [outcome(name, "rmsnorm", {}), outcome("bob", "rmsnorm", {})]
    stats = cohort.item_stats(outcomes)
    cohort.write_report(tmp_path / "anonymous.html", outcomes, stats)
    cohort.write_report(tmp_path / "named.html", outcomes, stats, names=True)
    anonymous, named = ((tmp_path / f"{n}.html").read_text() for n in ("anonymous", "named"))
    assert "bob" not in anonymous and "onerror" not in anonymous
    assert "<td>bob</td>" in named and name not in named and "&lt;img src=x" in named


def test_the_report_without_matplotlib_is_tables(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    outcomes = [outcome("a", "rmsnorm", {})]
    cohort.write_report(tmp_path / "report.html", outcomes, cohort.item_stats(outcomes))
    html = (tmp_path / "report.html").read_text()
    assert "<img" not in html and "Charts need matplotlib" in html and "<table>" in html


def test_the_report_embeds_its_charts(tmp_path):
    pytest.importorskip("matplotlib")
    outcomes = [outcome("a", "rmsnorm", {}), outcome("b", "attention", {})]
    cohort.write_report(tmp_path / "report.html", outcomes, cohort.item_stats(outcomes))
    html = (tmp_path / "report.html").read_text()
    assert html.count("src='data:image/png;base64,") == 3  # per item, per chapter, scores
    assert "src='http" not in html and "<script" not in html  # one file, nothing fetched


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """Run `kit demo` as the instructor would; its results folder."""
    out = tmp_path_factory.mktemp("demo")
    subprocess.run(["kit", "demo", "--out", str(out)], check=True, timeout=900)
    return out / "grades"


@pytest.mark.slow
def test_kit_demo_items_agree_with_grades_csv(demo):
    grades = rows_of(demo / "grades.csv")
    items = rows_of(demo / "items.csv")
    submissions, total = defaultdict(int), defaultdict(float)
    for row in grades:
        submissions[row["assignment"]] += 1
        total[row["assignment"]] += float(row["score"])
    assert {row["assignment"] for row in items} == set(submissions)
    for row in items:
        chapter = row["assignment"]
        assert int(row["submissions"]) == submissions[chapter]
        assert 0 <= int(row["passed"]) <= submissions[chapter]
        rate = int(row["passed"]) / submissions[chapter]
        assert float(row["pass_rate"]) == pytest.approx(rate, abs=1e-3)
    for chapter in submissions:  # the items' mean points add up to the chapter's scores
        rows = [row for row in items if row["assignment"] == chapter]
        earned = sum(float(row["mean_points"]) * submissions[chapter] for row in rows)
        assert earned == pytest.approx(total[chapter], abs=0.01 * len(rows) * submissions[chapter])
        assert len(rows) == len(registry.items(chapter))


@pytest.mark.slow
def test_kit_demo_report_names_grace_s_mistakes_and_no_student(demo):
    items = rows_of(demo / "items.csv")
    grace = [r for r in rows_of(demo / "grades.csv") if r["student_id"] == "grace"]
    graded = {r["assignment"] for r in grace if r["status"] == GRADED}
    assert graded, "none of grace's chapters was graded"
    for chapter, bug in WRONG.items():  # grace hands in this zoo bug: its hint is counted
        if chapter not in graded:  # timed out on a slow machine: nothing to diagnose
            continue
        key = re.search(r'^HINT = "(\w+)"', (ZOO / chapter / f"{bug}.py").read_text(), re.M)[1]
        named = " ".join(row["top_mistakes"] for row in items if row["assignment"] == chapter)
        assert f"{key} (" in named, f"{chapter}: {bug}'s hint {key} is not in items.csv"
    html = (demo / "report.html").read_text()
    for student in ("ada", "grace", "linus", "mallory"):
        assert f"<td>{student}</td>" not in html


def test_a_verdict_is_computed_once_per_case_and_distinct_output(tmp_path, monkeypatch):
    grader = grade.Grader(tmp_path, isolation=None, limits=None, jobs=0, examples=2)
    grader.prepare({"rmsnorm"})
    item = registry.items("rmsnorm")[0]
    case = grader.verdicts.cases(item)[0]
    output = plain(item.probe(reference_impl("rmsnorm"), case))
    calls = []
    monkeypatch.setattr(grade, "verify", lambda *args: calls.append(args) or "")
    assert [grader.verdicts(item, 0, dict(output)) for _ in range(3)] == ["", "", ""]
    assert len(calls) == 1
    changed = {k: v + 1 if isinstance(v, torch.Tensor) else v for k, v in output.items()}
    grader.verdicts(item, 0, changed)
    assert len(calls) == 2


def test_the_drawn_cases_are_kept_and_reused(tmp_path, monkeypatch):
    first = grade.Grader(tmp_path, isolation=None, limits=None, jobs=0, examples=2)
    first.prepare({"sampling"})
    (kept,) = (tmp_path / "cases").glob("sampling-*.safetensors")
    monkeypatch.setattr(grade, "draw_cases", lambda *args: pytest.fail("drew the cases again"))
    second = grade.Grader(tmp_path, isolation=None, limits=None, jobs=0, examples=2)
    second.prepare({"sampling"})
    assert second.blobs["sampling"] == first.blobs["sampling"] == kept.read_bytes()
    other = grade.Grader(tmp_path, isolation=None, limits=None, jobs=0, examples=3)
    with pytest.raises(pytest.fail.Exception):  # another budget: other cases
        other.prepare({"sampling"})


def test_a_per_case_reference_is_computed_once_per_case_while_remembering():
    calls = []

    @per_case
    def reference(case):
        calls.append(case)
        return case["x"] * 2

    first, second = {"x": torch.ones(2)}, {"x": torch.ones(2)}
    reference(first), reference(first)
    assert len(calls) == 2  # pytest and notebooks: computed every time
    memo: dict = {}
    with remembering(memo):
        assert torch.equal(reference(first), torch.full((2,), 2.0))
        reference(first), reference(second)
    assert len(calls) == 4 and len(memo) == 2
    with remembering(memo):
        reference(second)
    assert len(calls) == 4
