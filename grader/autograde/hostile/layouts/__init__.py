"""Attacks made of files and names rather than code: each module's `build` lays one out.

`build(root, student, victim)` writes `student`'s hand-in under `root` (a folder of student
folders when `LAYOUT == "folders"`, of LMS zips when `"zips"`); `victim` is an honest
classmate whose own submission is already there. `tests/kit/test_grade.py` grades them all
in one `kit grade` run each, mixed with honest students.
"""
