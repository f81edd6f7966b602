"""Forgets BOS: encode ignores bos=True."""

HINT = "bos"

_encode = Tokenizer.encode  # noqa: F821  (the chapter's own)


class Tokenizer(Tokenizer):  # noqa: F821  (the chapter's Tokenizer, with this encode)
    def encode(self, text, bos=True, eos=False):
        return _encode(self, text, bos=False, eos=eos)
