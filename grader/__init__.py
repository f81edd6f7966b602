"""llama-kit: the checks, the course tooling and the `kit` command.

Importing this package is cheap: torch and transformers are imported by the modules that
need them, so that a notebook or a CLI call pays only for what it uses.
"""
