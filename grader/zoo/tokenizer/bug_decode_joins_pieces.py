"""Decodes by joining the pieces and turning ▁ into spaces: BOS, byte pieces and the prefix
space come out wrong."""

HINT = "decode"


class Tokenizer(Tokenizer):  # noqa: F821  (the chapter's Tokenizer, with this decode)
    def decode(self, ids):
        return "".join(self.sp.id_to_piece(i) for i in ids).replace("▁", " ")
