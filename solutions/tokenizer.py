# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 8: the sentencepiece tokenizer
#
# A model reads token ids, not text. LLaMA 1 and 2 turn text into ids with a
# **byte-pair encoding** (BPE) trained by Google's `sentencepiece`: start from single
# characters and merge the most frequent neighbouring pair into a new vocabulary entry, again
# and again, until the vocabulary has the size asked for. (Llama 3 moved to a tiktoken BPE
# of 128,256 entries; the ideas are the same.)
#
# ## LLaMA's settings
#
# Meta trained its tokenizer with these `sentencepiece` options (they are stored in the model
# file itself: the `trainer_spec` and `normalizer_spec` of its protobuf, which
# `sentencepiece.sentencepiece_model_pb2.ModelProto` reads), and so do you:
#
# - `model_type="bpe"`;
# - `byte_fallback=True`: a character outside the vocabulary is spelled as its UTF-8 bytes,
#   pieces `<0x00>` … `<0xFF>` (ids 3 to 258), so no text ever becomes the unknown token.
#   A Korean or Japanese character takes three bytes, an emoji four;
# - `split_digits=True`: every digit is its own token, which helps arithmetic;
# - `normalization_rule_name="identity"` and `remove_extra_whitespaces=False`: the text is
#   not changed before it is split (no Unicode normalisation, spaces kept as they are);
# - `unk_id=0`, `bos_id=1`, `eos_id=2` and `pad_id=-1`: no padding token at all;
# - `allow_whitespace_only_pieces=True`: a run of spaces (code indentation) may be a piece;
# - `add_dummy_prefix=True` (the prefix space below), and sentencepiece's defaults
#   `split_by_unicode_script`, `split_by_whitespace`, `split_by_number` (all True) and
#   `max_sentencepiece_length=16`, left as they are;
# - `character_coverage`: Meta's LLaMA 2 `tokenizer.model` carries **0.99995**: the rarest
#   characters of its huge corpus (0.005% of it) get no piece and fall back to bytes. The kit
#   uses **1.0** for its corpus of a few dozen sentences, where each Korean or Japanese
#   character is rare but wanted: 1.0 gives every one of them a piece. The check accepts
#   either value.
#
# Pass `minloglevel=2` too: training logs to stderr otherwise, and a graded notebook cell
# that writes to stderr scores 0 under nbgrader.
#
# ## The prefix space
#
# sentencepiece writes a space as `▁` (U+2581) and glues it to the start of the next word,
# so that `decode` can restore the spaces. It also puts one `▁` in front of the whole text
# (`add_dummy_prefix`), so that a word at the start is split like the same word after a
# space: `"banana"` becomes `["▁banana"]`, and `decode` drops that first `▁` again. One
# consequence: encoding two strings separately and joining the ids is not encoding their
# concatenation; `decode(encode("Hello") + encode("world"))` is `"Hello world"`.
#
# **Hugging Face and sentencepiece disagree on text that starts with whitespace**: for
# `" banana"` sentencepiece gives `["▁", "▁banana"]` and `LlamaTokenizer` (transformers 5)
# `["▁banana"]`. The checks accept either there; everywhere else your encoding must equal
# `LlamaTokenizer.from_pretrained(folder, add_bos_token=True)`'s. They also disagree on
# decoding byte pieces that do not form valid UTF-8 (a random model writes such runs), where
# both replace the broken bytes with `�` but not equally often; either is accepted too.
#
# ## The kit's corpus
#
# `grader/data/tokenizer_corpus.txt` holds a few dozen sentences written for this kit, in
# English, Korean and Japanese, with numbers and a line of code.

# %% nbgrader={"grade": false, "grade_id": "tokenizer_imports", "locked": true, "schema_version": 3, "solution": false, "task": false}
import io
from collections.abc import Callable, Iterable
from pathlib import Path

import sentencepiece as spm
import torch

try:  # your chapters 3 and 7, next to this file
    from generate import generate
    from llama import Llama  # the end-to-end check builds your model
except ImportError:  # the kit's reference versions (Hugging Face's code)
    from grader.reference import Llama, generate  # noqa: F401  (Llama: as above)

# %% [markdown]
# ## Exercise 1: training
#
# `train_tokenizer(sentences, vocab_size)` trains a BPE model in memory with LLaMA's settings
# and returns the serialised model (the bytes of a `tokenizer.model` file). Give
# `SentencePieceTrainer.train` a `sentence_iterator` and a `model_writer` (an
# `io.BytesIO`), so that nothing touches the disk.

# %% nbgrader={"grade": false, "grade_id": "tokenizer_train_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_tokenizer(sentences: Iterable[str], vocab_size: int) -> bytes:
    """A sentencepiece BPE model with LLaMA's settings, as the bytes of tokenizer.model."""
    ### BEGIN SOLUTION
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()
    ### END SOLUTION


# %% [markdown]
# ## Exercise 2: the tokenizer
#
# `Tokenizer(model_path)` loads a `tokenizer.model` with `spm.SentencePieceProcessor` and
# exposes Meta's interface: `bos_id`, `eos_id`, `pad_id` (-1) and `vocab_size` as
# attributes; `encode(text, bos=True, eos=False)` gives a list of ids, with BOS in front
# and EOS at the end when asked; `decode(ids)` gives the text back (BOS and EOS decode to
# nothing); `pieces(text)` gives the pieces (strings such as `"▁banana"`) without BOS.

# %% nbgrader={"grade": false, "grade_id": "tokenizer_class_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Tokenizer:
    """Meta's LLaMA tokenizer interface around a sentencepiece model."""

    def __init__(self, model_path: str | Path) -> None:
        ### BEGIN SOLUTION
        self.sp = spm.SentencePieceProcessor(model_file=str(model_path))
        self.bos_id = self.sp.bos_id()
        self.eos_id = self.sp.eos_id()
        self.pad_id = self.sp.pad_id()
        self.vocab_size = self.sp.vocab_size()
        ### END SOLUTION

    def encode(self, text: str, bos: bool = True, eos: bool = False) -> list[int]:
        """Token ids of text, with BOS in front and EOS at the end when asked."""
        ### BEGIN SOLUTION
        ids = self.sp.encode(text)
        return [self.bos_id] * bos + ids + [self.eos_id] * eos
        ### END SOLUTION

    def decode(self, ids: list[int]) -> str:
        """The text of token ids; BOS and EOS decode to nothing."""
        ### BEGIN SOLUTION
        return self.sp.decode(ids)
        ### END SOLUTION

    def pieces(self, text: str) -> list[str]:
        """The sentencepiece pieces of text, without BOS."""
        ### BEGIN SOLUTION
        return self.sp.encode(text, out_type=str)
        ### END SOLUTION


# %% [markdown]
# ## Exercise 3: from text to text
#
# `complete(tokenizer, model, prompt, max_new_tokens, temperature=0.0, top_k=None,
# top_p=None)`: encode the prompt with BOS as a batch of one, run chapter 7's `generate`
# with `eos_token_id=tokenizer.eos_id`, and decode only the new tokens. With your
# tokenizer, your `Llama` and your sampler, the text equals what Hugging Face's tokenizer,
# `LlamaForCausalLM.generate` and `decode(..., skip_special_tokens=True)` give under the
# same `torch.manual_seed`.

# %% nbgrader={"grade": false, "grade_id": "tokenizer_complete_solution", "locked": false, "schema_version": 3, "solution": true, "task": false}
def complete(
    tokenizer: Tokenizer,
    model: Callable[..., torch.Tensor],
    prompt: str,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> str:
    """The text that the model writes after the prompt."""
    ### BEGIN SOLUTION
    input_ids = torch.tensor([tokenizer.encode(prompt)])
    sampling = {"temperature": temperature, "top_k": top_k, "top_p": top_p}
    output = generate(model, input_ids, max_new_tokens, eos_token_id=tokenizer.eos_id, **sampling)
    return tokenizer.decode(output[0, input_ids.shape[1] :].tolist())
    ### END SOLUTION


# %% [markdown]
# ## Checks
#
# Each cell below is a graded item; in pytest they run as `pytest -m tokenizer`.

# %% nbgrader={"grade": false, "grade_id": "tokenizer_checks_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# The checks run when this file is a notebook (or `python tokenizer.py`), not when pytest imports it.
if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")  # nbgrader scores 0 for a graded cell that writes to stderr
    from grader.notebook import check

# %% nbgrader={"grade": true, "grade_id": "tokenizer_train", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `train_tokenizer` uses LLaMA's settings; unseen characters fall back to bytes.
if __name__ == "__main__":
    check("tokenizer_train", globals())

# %% nbgrader={"grade": true, "grade_id": "tokenizer_encode", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# `Tokenizer.encode` equals LlamaTokenizer (BOS, EOS, byte fallback, digits).
if __name__ == "__main__":
    check("tokenizer_encode", globals())

# %% nbgrader={"grade": true, "grade_id": "tokenizer_decode", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# `Tokenizer.decode` equals LlamaTokenizer's decode without special tokens.
if __name__ == "__main__":
    check("tokenizer_decode", globals())

# %% nbgrader={"grade": true, "grade_id": "tokenizer_prefix_space", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# `pieces("banana")` is ["▁banana"]: the prefix space, as in LlamaTokenizer.
if __name__ == "__main__":
    check("tokenizer_prefix_space", globals())

# %% nbgrader={"grade": true, "grade_id": "tokenizer_end_to_end", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Whole stack: text in, text out, your tokenizer, Llama, sampler and loop together
# equal HF's pipeline, stopping at EOS.
if __name__ == "__main__":
    check("tokenizer_end_to_end", globals())
