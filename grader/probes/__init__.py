"""The probes: what runs a learner's code on a case and hands back plain outputs.

A probe module imports torch, the kit's loaders and the parts it lends (`parts/`: LLaMA in
plain torch), never transformers, peft, the checks or the references: in `kit grade` it is
all that the process running a submission holds (see `grader.autograde.worker`), and each
probe's child holds only the parts that probe lends (`parts.lends`), so that nothing there
computes an answer to its items. The checks in `grader.checks` pair each probe with the
comparison against Hugging Face.
"""
