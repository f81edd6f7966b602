"""Chapter 8, tokenizer: sentencepiece training and Meta's Tokenizer against LlamaTokenizer.

The kit trains its own model from `grader/data/tokenizer_corpus.txt` (in 10 ms) and hands
its bytes to the learner's `Tokenizer`, so the encode, decode and end-to-end items do not
depend on the learner's training. `LlamaTokenizer.from_pretrained(folder, add_bos_token=True)`
built from the same file is the oracle; on text that starts with whitespace, where it and
sentencepiece disagree, either answer is accepted.
"""

from __future__ import annotations

import functools
from itertools import pairwise

import torch
from hypothesis import strategies as st

from grader.chapters import ROOT
from grader.checks import generate as generate_checks
from grader.compare import per_case
from grader.probes.tokenizer import (
    BYTES,
    as_bytes,
    as_tensor,
    model_file,
    probe_decode,
    probe_encode,
    probe_end_to_end,
    probe_pieces,
    probe_train,
    stderr_silenced,
)
from grader.registry import Case, CheckFailed, Item, Output, register

CHAPTER = "tokenizer"
CORPUS = ROOT / "grader" / "data" / "tokenizer_corpus.txt"
VOCAB_SIZE = 800
# LLaMA's sentencepiece settings, as Meta's LLaMA 2 tokenizer.model carries them (its
# protobuf's trainer_spec and normalizer_spec): field, the values accepted. The kit trains
# with character_coverage 1.0 (every character of its small corpus gets a piece) and
# accepts Meta's 0.99995 too.
TRAINER_SPEC = {
    "model_type": (2,),  # BPE
    "byte_fallback": (True,),
    "split_digits": (True,),
    "allow_whitespace_only_pieces": (True,),
    "split_by_unicode_script": (True,),
    "split_by_whitespace": (True,),
    "split_by_number": (True,),
    "max_sentencepiece_length": (16,),
    "character_coverage": (1.0, 0.99995),
    "unk_id": (0,),
    "bos_id": (1,),
    "eos_id": (2,),
    "pad_id": (-1,),
}
NORMALIZER_SPEC = {
    "name": ("identity",),
    "add_dummy_prefix": (True,),
    "remove_extra_whitespaces": (False,),
}
# The fields a learner passes under another name, and the trainer options that set them.
OPTION_NAMES = {"name": "normalization_rule_name"}

HINTS = {
    "bytes": BYTES,
    "model_type": 'Train a BPE model: model_type="bpe".',
    "byte_fallback": "Pass byte_fallback=True, so that characters outside the vocabulary "
    "become their UTF-8 bytes instead of the unknown token.",
    "split_digits": "Pass split_digits=True: every digit is its own token.",
    "character_coverage": "Pass character_coverage=1.0 (every character of the corpus gets a "
    "piece) or Meta's 0.99995.",
    "allow_whitespace_only_pieces": "Pass allow_whitespace_only_pieces=True, as Meta did: runs "
    "of spaces (code indentation) may become pieces of their own.",
    "add_dummy_prefix": "Keep add_dummy_prefix=True (sentencepiece's default, LLaMA's "
    'setting): a word at the start of a text is split as after a space, "banana" is '
    '["▁banana"].',
    "defaults": "Leave the settings LLaMA shares with sentencepiece's defaults as they are: "
    "split_by_unicode_script, split_by_whitespace and split_by_number True, "
    "max_sentencepiece_length 16.",
    "ids": "Set unk_id=0, bos_id=1, eos_id=2 and pad_id=-1 (LLaMA has no padding token).",
    "normalization": 'Keep the text as it is: normalization_rule_name="identity" and '
    "remove_extra_whitespaces=False.",
    "vocab_size": "Train with the vocab_size you were given.",
    "unigram": 'sentencepiece trains a unigram model unless told model_type="bpe"; on this '
    "corpus a unigram model cannot reach the vocabulary size.",
    "special": "bos_id, eos_id, pad_id and vocab_size come from the SentencePieceProcessor "
    "(bos_id(), eos_id(), pad_id(), vocab_size()).",
    "bos": "Put bos_id in front when bos=True (the default), and nothing when bos=False.",
    "eos": "Append eos_id when eos=True, and nothing when eos=False (the default).",
    "encode": "Encode with the SentencePieceProcessor (sp.encode(text)), as ids.",
    "decode": "Decode with the SentencePieceProcessor (sp.decode(ids)): it drops BOS and EOS, "
    "turns ▁ into spaces, drops the prefix space and joins byte pieces into characters.",
    "pieces": "pieces(text) is sp.encode(text, out_type=str): strings such as '▁banana'.",
    "new_only": "Return the text of the new tokens only, not the prompt.",
    "eos_id": "Pass eos_token_id=tokenizer.eos_id to generate, so that the text ends where "
    "the model writes EOS.",
    "slice_ids": "Decode the ids after the prompt, output[0, prompt_length:]; cutting the "
    "decoded text at len(prompt) characters is not the same (the prefix space, bytes).",
    "complete": "Encode the prompt with BOS as a (1, S) tensor, generate with "
    "eos_token_id=tokenizer.eos_id, decode the ids after the prompt.",
}

# Characters that the corpus does not have (byte fallback), and the whitespace that matters.
UNSEEN = "é€中😀🦙ñ"
SPACES = (" ", "  ", "\n", "\t")


@functools.cache
def corpus() -> tuple[str, ...]:
    return tuple(CORPUS.read_text(encoding="utf-8").splitlines())


@functools.cache
def kit_model(vocab_size: int = VOCAB_SIZE) -> bytes:
    """The kit's tokenizer.model, trained with LLaMA's settings on the kit's corpus."""
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        num_threads=1,
        minloglevel=2,
        **{OPTION_NAMES.get(k, k): v[0] for k, v in NORMALIZER_SPEC.items()},
        **{k: v[0] for k, v in TRAINER_SPEC.items() if k != "model_type"},
    )
    return model.getvalue()


@functools.cache
def processor(model: bytes):
    """sentencepiece's processor for a model file (the other accepted answer where HF differs)."""
    import sentencepiece as spm

    return spm.SentencePieceProcessor(model_proto=model)


def hf_tokenizer(model: torch.Tensor, bos: bool = True, eos: bool = False):
    """LlamaTokenizer.from_pretrained on a folder holding the model (transformers 5)."""
    return _hf_tokenizer(as_bytes(model), bos, eos)


@functools.cache  # one per model and flags: items load the kit's model for every case
def _hf_tokenizer(model: bytes, bos: bool, eos: bool):
    from transformers import LlamaTokenizer

    with model_file(as_tensor(model)) as path:
        return LlamaTokenizer.from_pretrained(path.parent, add_bos_token=bos, add_eos_token=eos)


def sp_ids(model: torch.Tensor, text: str, bos: bool, eos: bool) -> list[int]:
    """sentencepiece's own encoding, the other accepted answer for leading whitespace."""
    sp = processor(as_bytes(model))
    return [sp.bos_id()] * bos + sp.encode(text) + [sp.eos_id()] * eos


def decodings(model: torch.Tensor, hf, ids: torch.Tensor) -> set[str]:
    """The accepted texts of ids: HF's and sentencepiece's differ on broken UTF-8 byte runs."""
    return {
        hf.decode(ids, skip_special_tokens=True),
        processor(as_bytes(model)).decode(ids.tolist()),
    }


# ---- training -------------------------------------------------------------------------------


def train_case(vocab_size: int, texts: list[str]) -> Case:
    """The corpus to train on travels with the case: kit grade's child holds no data files."""
    return {"vocab_size": vocab_size, "texts": texts, "corpus": list(corpus())}


def unigram_error(vocab_size: int) -> str | None:
    """What sentencepiece says when LLaMA's settings but a unigram model ask for vocab_size."""
    import io

    import sentencepiece as spm

    options = {OPTION_NAMES.get(k, k): v[0] for k, v in NORMALIZER_SPEC.items()}
    options.update({k: v[0] for k, v in TRAINER_SPEC.items() if k != "model_type"})
    try:
        with stderr_silenced():
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(corpus()),
                model_writer=io.BytesIO(),
                vocab_size=vocab_size,
                model_type="unigram",
                num_threads=1,
                minloglevel=2,
                **options,
            )
    except RuntimeError as error:
        return str(error).splitlines()[0]
    return None


def same_setting(stored, wanted) -> bool:
    """Equal, where a float field counts as equal after the proto's float32 rounding."""
    if isinstance(wanted, float):
        return abs(stored - wanted) <= 1e-7 * abs(wanted)
    return stored == wanted


def setting_hint(field: str) -> str:
    """The hint for a trainer or normalizer field that differs from LLaMA's."""
    if field in HINTS:
        return HINTS[field]
    if field.endswith("_id"):
        return HINTS["ids"]
    if field in ("name", "remove_extra_whitespaces"):
        return HINTS["normalization"]
    return HINTS["defaults"]


def verify_train(case: Case, output: Output) -> None:
    from sentencepiece import sentencepiece_model_pb2

    if output["error"] is not None:
        # The limit it names depends on the other options; the refusal itself does not.
        refusal = str(unigram_error(case["vocab_size"])).split(". Please")[0]
        reproduced = output["error"].split(". Please")[0] == refusal
        raise CheckFailed(
            f"train_tokenizer(corpus, {case['vocab_size']}) raised {output['error']!r}. "
            + (HINTS["unigram"] if reproduced else "")
        )
    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(as_bytes(output["model"]))
    except Exception:  # protobuf's DecodeError, or anything the parser makes of garbage
        raise CheckFailed(
            f"train_tokenizer's bytes are not a sentencepiece model. {HINTS['bytes']}"
        ) from None
    specs = [(proto.trainer_spec, TRAINER_SPEC), (proto.normalizer_spec, NORMALIZER_SPEC)]
    for spec, wanted in specs:
        for field, values in wanted.items():
            if not any(same_setting(getattr(spec, field), value) for value in values):
                option = OPTION_NAMES.get(field, field)
                raise CheckFailed(
                    f"the model was trained with {option}={getattr(spec, field)!r}, LLaMA's "
                    f"tokenizer.model has {values[-1]!r}. {setting_hint(field)}"
                )
    if len(proto.pieces) != case["vocab_size"]:
        raise CheckFailed(
            f"the model has {len(proto.pieces)} pieces, asked for {case['vocab_size']}. "
            f"{HINTS['vocab_size']}"
        )
    verify_trained_behaviour(case, output["model"])


def verify_trained_behaviour(case: Case, model: torch.Tensor) -> None:
    """What the settings cause, seen through LlamaTokenizer on the learner's model."""
    tokenizer = hf_tokenizer(model, bos=False)
    if not tokenizer.tokenize("banana")[0].startswith("▁"):
        raise CheckFailed(
            f"with your model LlamaTokenizer splits 'banana' as {tokenizer.tokenize('banana')}, "
            f"without the prefix space. {HINTS['add_dummy_prefix']}"
        )
    digits = tokenizer.tokenize("x 31415")
    if any(sum(c.isdigit() for c in piece) > 1 for piece in digits):
        raise CheckFailed(
            f"with your model 'x 31415' splits as {digits}: digits merged. {HINTS['split_digits']}"
        )
    for text in case["texts"]:
        ids = tokenizer(text)["input_ids"]
        if tokenizer.unk_token_id in ids:
            raise CheckFailed(f"{text!r} encodes to the unknown token. {HINTS['byte_fallback']}")
        if tokenizer.decode(ids) != text and not text[:1].isspace():
            raise CheckFailed(
                f"LlamaTokenizer with your model decodes {text!r} to "
                f"{tokenizer.decode(ids)!r}. {HINTS['normalization']}"
            )


# ---- encode and decode ----------------------------------------------------------------------


def encode_case(texts: list[str], bos: bool = True, eos: bool = False) -> Case:
    return {"model": as_tensor(kit_model()), "texts": texts, "bos": bos, "eos": eos}


def verify_encode(case: Case, output: Output) -> None:
    hf = hf_tokenizer(case["model"], bos=case["bos"], eos=case["eos"])
    expected = [hf.bos_token_id, hf.eos_token_id, -1, hf.vocab_size]
    if output["special"] != expected:
        raise CheckFailed(
            f"(bos_id, eos_id, pad_id, vocab_size) are {tuple(output['special'])}, "
            f"expected {tuple(expected)}. {HINTS['special']}"
        )
    bos, eos = case["bos"], case["eos"]
    calls = [
        (f"bos={bos}, eos={eos}", bos, eos, output["ids"]),
        ("", True, False, output["defaults"]),
    ]
    for how, bos, eos, encodings in calls:  # the case's flags, then encode's defaults
        hf = hf_tokenizer(case["model"], bos=bos, eos=eos)
        for text, ids in zip(case["texts"], encodings, strict=False):
            wanted = hf(text)["input_ids"]
            accepted = [wanted]
            if text[:1].isspace():
                accepted.append(sp_ids(case["model"], text, bos, eos))
            if ids not in accepted:
                raise CheckFailed(
                    f"encode({', '.join(filter(None, (repr(text), how)))}) gave {ids}, "
                    f"LlamaTokenizer {wanted}. {encode_hint(ids, wanted, hf)}".strip()
                )


def encode_hint(ids, wanted: list[int], hf) -> str:
    """The BOS or EOS mistake that turns LlamaTokenizer's ids into the learner's, if one does."""
    bos, eos = [hf.bos_token_id], [hf.eos_token_id]
    body = wanted[len(bos) if wanted[:1] == bos else 0 : len(wanted) - (wanted[-1:] == eos)]
    has = (wanted[:1] == bos, wanted[-1:] == eos)
    for hint, flags in (("bos", (not has[0], has[1])), ("eos", (has[0], not has[1]))):
        if ids == bos * flags[0] + body + eos * flags[1]:
            return HINTS[hint]
    return ""


def decode_case(texts: list[str], seed: int) -> Case:
    """Id sequences to decode: encodings of texts, with BOS, EOS and pairs run together."""
    model = kit_model()
    sp = processor(model)
    g = torch.Generator().manual_seed(seed)
    sequences = []
    for first, second in zip(texts, texts[1:] + texts[:1], strict=True):
        ids = sp.encode(first) + (sp.encode(second) if torch.rand(1, generator=g) < 0.5 else [])
        sequences.append(
            [sp.bos_id()] + ids + [sp.eos_id()] * int(torch.rand(1, generator=g) < 0.5)
        )
    return {"model": as_tensor(model), "sequences": sequences}


def verify_decode(case: Case, output: Output) -> None:
    hf = hf_tokenizer(case["model"])
    for ids, text in zip(case["sequences"], output["texts"], strict=True):
        wanted = hf.decode(ids, skip_special_tokens=True)
        if text != wanted:
            raise CheckFailed(
                f"decode({ids}) gave {text!r}, LlamaTokenizer {wanted!r}. {HINTS['decode']}"
            )


# ---- the prefix space -----------------------------------------------------------------------


def pieces_case(words: list[str]) -> Case:
    return {"model": as_tensor(kit_model()), "words": words}


def verify_pieces(case: Case, output: Output) -> None:
    hf = hf_tokenizer(case["model"], bos=False)
    for word, pieces in zip(case["words"], output["pieces"], strict=True):
        if pieces != hf.tokenize(word):
            raise CheckFailed(
                f"pieces({word!r}) gave {pieces}, LlamaTokenizer {hf.tokenize(word)}. "
                + HINTS["pieces"]
            )
    ids = [i for word in case["words"] for i in hf(word)["input_ids"]]
    wanted = hf.decode(ids)
    if output["joined"] != wanted:
        raise CheckFailed(
            f"decode of {case['words']} encoded one by one gave {output['joined']!r}, "
            f"LlamaTokenizer {wanted!r}: each encoding starts with the prefix space. "
            + HINTS["decode"]
        )


# ---- from text to text ----------------------------------------------------------------------


def end_to_end_case(seed: int, prompt: str, max_new_tokens: int, **sampling) -> Case:
    """A random model over the kit's vocabulary, and a prompt encoded by LlamaTokenizer."""
    model = as_tensor(kit_model())
    case = generate_checks.generation_case(
        seed, VOCAB_SIZE, 2, 1, 1, 1, max_new_tokens, eos_token_id=2, **sampling
    )
    ids = hf_tokenizer(model)(prompt, return_tensors="pt")["input_ids"]
    return {**case, "input_ids": ids, "prompt": prompt, "model": model}


def eos_case(seed: int, prompt: str, max_new_tokens: int, **sampling) -> Case:
    """A model whose weights are set so that it writes two pieces and then EOS.

    The attention and MLP outputs are zero, so the logits depend on the last token only;
    the prompt's last token, the two pieces and EOS have orthogonal embeddings, and lm_head
    maps each to the next (after EOS a fourth piece, which a loop that ignores EOS writes).
    A margin of 40 logits (27 at temperature 1.5) leaves the other tokens no probability
    worth the name.
    """
    case = end_to_end_case(seed, prompt, max_new_tokens, **sampling)
    state = {name: tensor.clone() for name, tensor in case["state_dict"].items()}
    hidden = case["config"]["hidden_size"]
    for name in state:
        if name.endswith(("o_proj.weight", "down_proj.weight")):
            state[name].zero_()
        elif name.endswith("norm.weight"):
            state[name].fill_(1.0)
    g = torch.Generator().manual_seed(seed)
    last = int(case["input_ids"][0, -1])
    pieces = [i for i in torch.randperm(VOCAB_SIZE - 259, generator=g).tolist() if i + 259 != last]
    first, second, after = (259 + i for i in pieces[:3])
    chain = [last, first, second, 2, after]
    basis = torch.linalg.qr(torch.randn(hidden, len(chain) - 1, generator=g)).Q.T
    embed, head = state["model.embed_tokens.weight"], torch.zeros(VOCAB_SIZE, hidden)
    for vector, (token, following) in zip(basis, pairwise(chain), strict=True):
        embed[token] = vector
        head[following] = vector * 40 / hidden**0.5  # RMSNorm scales a unit vector by √hidden
    state["lm_head.weight"] = head
    return {**case, "state_dict": state}


def verify_end_to_end(case: Case, output: Output) -> None:
    expected = per_case(generate_checks.hf_generate)(case)
    hf = hf_tokenizer(case["model"])
    prompt, prompt_length = case["prompt"], case["input_ids"].shape[1]
    accepted = decodings(case["model"], hf, expected[0, prompt_length:])
    text = output["text"]
    if text in accepted:
        return
    what = f"complete(prompt={prompt!r}) gave {text!r}, HF's pipeline {min(accepted)!r}"
    hint = end_to_end_mistake(case, text, expected)
    if hint:
        raise CheckFailed(f"{what}. {HINTS[hint]}")
    tokens = output["tokens"]
    if not isinstance(tokens, torch.Tensor) or tokens.shape[1] <= prompt_length:
        raise CheckFailed(f"{what}. {HINTS['complete']}")
    if tokens.shape == expected.shape and torch.equal(tokens, expected):
        if output["new_text"] in accepted:  # the learner's decode is right; complete is not
            raise CheckFailed(f"{what}, though your decode of the new ids gives the right text.")
        raise CheckFailed(f"{what}, from HF's tokens: {HINTS['decode']}")
    generate_checks.explain_divergence(case, tokens, output["last_logits"], expected, what)
    if text not in decodings(case["model"], hf, tokens[0, prompt_length:]):
        raise CheckFailed(f"{what}. {HINTS['decode']}")


def end_to_end_mistake(case: Case, text, expected: torch.Tensor) -> str | None:
    """The known complete() mistake that reproduces the learner's text from HF's tokens."""
    hf = hf_tokenizer(case["model"])
    prompt, prompt_length = case["prompt"], case["input_ids"].shape[1]
    whole = decodings(case["model"], hf, expected[0])
    new = decodings(case["model"], hf, expected[0, prompt_length:])
    if text in whole | {prompt + decoded for decoded in new}:
        return "new_only"
    if text in {decoded[len(prompt) :] for decoded in whole}:
        return "slice_ids"
    if case["settings"]["eos_token_id"] is not None:
        endless = {**case, "settings": {**case["settings"], "eos_token_id": None}}
        if text in decodings(
            case["model"], hf, generate_checks.hf_generate(endless)[0, prompt_length:]
        ):
            return "eos_id"
    return None


# ---- the graded items -----------------------------------------------------------------------

fragments = st.builds(
    lambda line, start, length: line[start : start + length],
    st.sampled_from(corpus()),
    st.integers(0, 40),
    st.integers(1, 50),
)
characters = st.sampled_from(sorted(set("".join(corpus())) | set(UNSEEN)) + list(SPACES))
texts = fragments | st.lists(characters, max_size=20).map("".join)
WORDS = ["banana", "Banana", "바나나", "バナナ", "2024", "tokenizer", "🦙"]
SAMPLES = [
    "Bananas are yellow.",
    "한국어 글자는 UTF-8에서 세 바이트로 쓰입니다.",
    "日本語の文字は三バイトです。",
    "  two leading spaces",
    "digits 3.14159 and an emoji 🦙, a tab\tand a newline\n",
    "",
]


register(
    Item(
        "tokenizer_train",
        CHAPTER,
        points=2,
        title="`train_tokenizer` uses LLaMA's settings; unseen characters fall back to bytes",
        probe=probe_train,
        verify=verify_train,
        examples=lambda: [train_case(VOCAB_SIZE, SAMPLES), train_case(600, SAMPLES)],
        strategy=st.builds(
            train_case, st.integers(600, VOCAB_SIZE), st.lists(texts, min_size=1, max_size=4)
        ),
        max_examples=10,
    ),
    Item(
        "tokenizer_encode",
        CHAPTER,
        points=3,
        title="`Tokenizer.encode` equals LlamaTokenizer (BOS, EOS, byte fallback, digits)",
        probe=probe_encode,
        verify=verify_encode,
        examples=lambda: [encode_case(SAMPLES), encode_case(SAMPLES, bos=False, eos=True)],
        strategy=st.builds(encode_case, st.lists(texts, max_size=6), st.booleans(), st.booleans()),
    ),
    Item(
        "tokenizer_decode",
        CHAPTER,
        points=2,
        title="`Tokenizer.decode` equals LlamaTokenizer's decode without special tokens",
        probe=probe_decode,
        verify=verify_decode,
        examples=lambda: [decode_case(SAMPLES, 0)],
        strategy=st.builds(
            decode_case, st.lists(texts, min_size=1, max_size=6), st.integers(0, 2**31)
        ),
    ),
    Item(
        "tokenizer_prefix_space",
        CHAPTER,
        points=1,
        title='`pieces("banana")` is ["▁banana"]: the prefix space, as in LlamaTokenizer',
        probe=probe_pieces,
        verify=verify_pieces,
        examples=lambda: [pieces_case(WORDS)],
        strategy=st.builds(
            pieces_case,
            st.lists(fragments.filter(lambda t: not t[:1].isspace()), min_size=1, max_size=4),
        ),
    ),
    Item(
        "tokenizer_end_to_end",
        CHAPTER,
        points=3,
        title="whole stack: text in, text out, your tokenizer, Llama, sampler and loop "
        "together equal HF's pipeline, stopping at EOS",
        probe=probe_end_to_end,
        verify=verify_end_to_end,
        examples=lambda: [
            end_to_end_case(0, "A banana is", 8),
            end_to_end_case(1, "바나나는", 8, temperature=0.9, top_k=50, top_p=0.95),
            eos_case(2, "Bananas are", 6),
            eos_case(3, "日本語", 8, temperature=1.2, top_k=None, top_p=0.9),
        ],
        strategy=st.builds(
            lambda build, *args, **sampling: build(*args, **sampling),
            st.sampled_from([end_to_end_case, eos_case]),
            st.integers(0, 2**31 - 1),
            fragments.filter(lambda t: not t[:1].isspace()),
            st.integers(1, 8),
            temperature=st.sampled_from([0.0, 0.7, 1.0, 1.5]),
            top_k=st.none() | st.integers(1, 100),
            top_p=st.none() | st.floats(0.3, 1.0),
        ),
        max_examples=20,
    ),
)
