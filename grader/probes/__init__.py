"""The probes: what runs a learner's code on a case and hands back plain outputs.

A probe module imports torch and the kit's loaders only, never transformers, peft, the
checks or the references: in `kit grade` it is all that the process running a submission
holds (see `grader.autograde.worker`), so that nothing there can compute an answer. The
checks in `grader.checks` pair each probe with the comparison against Hugging Face.
"""
