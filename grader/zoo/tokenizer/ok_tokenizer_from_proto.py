"""Correct, written differently: reads the file itself, loads the proto, adds BOS by hand."""

from pathlib import Path

import sentencepiece

HINT = None


class Tokenizer:
    def __init__(self, model_path):
        self.sp = sentencepiece.SentencePieceProcessor()
        self.sp.LoadFromSerializedProto(Path(model_path).read_bytes())
        self.bos_id, self.eos_id = self.sp.PieceToId("<s>"), self.sp.PieceToId("</s>")
        self.pad_id = -1
        self.vocab_size = self.sp.GetPieceSize()

    def encode(self, text, bos=True, eos=False):
        ids = self.sp.EncodeAsIds(text)
        if bos:
            ids.insert(0, self.bos_id)
        if eos:
            ids.append(self.eos_id)
        return ids

    def decode(self, ids):
        return self.sp.DecodeIds(list(ids))

    def pieces(self, text):
        return self.sp.EncodeAsPieces(text)
