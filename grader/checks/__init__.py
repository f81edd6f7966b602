"""One module of checks per chapter (named as in `grader.chapters.CHAPTERS`).

Importing this package registers every chapter's items.
"""

from grader.checks import attention, generate, llama, lora, memory, rmsnorm, sampling, tokenizer  # noqa: F401
