"""Correct, written differently: Meta's own character_coverage (0.99995), options from a
dict, and a model file written by a Python-side writer."""

import io

import sentencepiece

HINT = None

LLAMA = {
    "model_type": "bpe",
    "byte_fallback": True,
    "split_digits": True,
    "allow_whitespace_only_pieces": True,
    "normalization_rule_name": "identity",
    "remove_extra_whitespaces": False,
    "character_coverage": 0.99995,
    "unk_id": 0,
    "bos_id": 1,
    "eos_id": 2,
    "pad_id": -1,
}


def train_tokenizer(sentences, vocab_size):
    with io.BytesIO() as model:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=(line for line in sentences),
            model_writer=model,
            vocab_size=vocab_size,
            minloglevel=2,
            **LLAMA,
        )
        return model.getvalue()
