"""Chapter 8's probes: the learner's sentencepiece training, Tokenizer and `complete`.

The learner's code wraps sentencepiece, so the child that runs it holds that library (and
neither transformers' tokenizers nor `tokenizers`: `PACKAGES_KEPT`). The end-to-end item
builds the learner's model and loop, which in kit grade come from chapters 3 and 7 in plain
torch (`grader.probes.parts`): none of them answers an item of this chapter.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from grader.probes.config import llama_config, stand_in_module, stand_ins
from grader.probes.llama import load_into
from grader.probes.parts import lends
from grader.probes.parts.generate import generate
from grader.probes.parts.llama import Llama
from grader.registry import Case, CheckFailed, Output

BYTES = "Return the model's bytes: model_writer=io.BytesIO(), then .getvalue()."
PACKAGES_KEPT = ("sentencepiece",)  # what the chapter's locked cell imports
# Chapters 3 and 7, which the locked cell imports (from the learner's files next to this one,
# else from `grader.reference`): in kit grade the file comes alone, so the child holds them.
EARLIER = ("rmsnorm", "attention", "mlp", "decoder", "llama", "kv_cache", "sampling", "generate")
STAND_INS = {
    **stand_ins(),  # the probes' LlamaConfig
    "grader.reference": stand_in_module(
        "grader.reference", "chapters 3 and 7", Llama=Llama, generate=generate
    ),
}


def as_tensor(model: bytes) -> torch.Tensor:
    """Bytes as a uint8 tensor: how a model file travels in a case or an output."""
    return torch.frombuffer(bytearray(model), dtype=torch.uint8)


def as_bytes(model: torch.Tensor) -> bytes:
    """The model file that travelled as a uint8 tensor."""
    return model.numpy().tobytes()


@contextmanager
def model_file(model: torch.Tensor) -> Iterator[Path]:
    """A temporary tokenizer.model holding the bytes; yields its path."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tokenizer.model"
        path.write_bytes(as_bytes(model))
        yield path


def learner_tokenizer(impl, model: torch.Tensor):
    with model_file(model) as path:
        return impl.Tokenizer(path)


@contextmanager
def stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: sentencepiece's C++ logging bypasses sys.stderr."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@lends(*EARLIER)
def probe_train(impl, case: Case) -> Output:
    try:
        with stderr_silenced():
            model = impl.train_tokenizer(list(case["corpus"]), case["vocab_size"])
    except NotImplementedError:
        raise  # the runner says which function is still to write
    except RuntimeError as error:  # sentencepiece's refusals, e.g. a vocabulary too large
        return {"model": None, "error": str(error).splitlines()[0][-200:]}
    if not isinstance(model, bytes):
        raise CheckFailed(f"train_tokenizer returned {type(model).__name__}. {BYTES}")
    return {"model": as_tensor(model), "error": None}


@lends(*EARLIER)
def probe_encode(impl, case: Case) -> Output:
    tokenizer = learner_tokenizer(impl, case["model"])
    flags = {"bos": case["bos"], "eos": case["eos"]}
    special = [tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id, tokenizer.vocab_size]
    return {
        "ids": [tokenizer.encode(text, **flags) for text in case["texts"]],
        "defaults": [tokenizer.encode(text) for text in case["texts"][:2]],
        "special": special,
    }


@lends(*EARLIER)
def probe_decode(impl, case: Case) -> Output:
    tokenizer = learner_tokenizer(impl, case["model"])
    return {"texts": [tokenizer.decode(ids) for ids in case["sequences"]]}


@lends(*EARLIER)
def probe_pieces(impl, case: Case) -> Output:
    tokenizer = learner_tokenizer(impl, case["model"])
    words = case["words"]
    return {
        "pieces": [tokenizer.pieces(word) for word in words],
        "joined": tokenizer.decode([i for w in words for i in tokenizer.encode(w, bos=False)]),
    }


@lends(*EARLIER)
def probe_end_to_end(impl, case: Case) -> Output:
    """The learner's tokenizer, Llama, sampler and loop, with what generate returned recorded."""
    model = impl.Llama(llama_config(case["config"]))
    load_into(model, case["state_dict"], "Llama")
    model.eval()
    recorded = {"last_logits": [], "tokens": None}

    def step(input_ids):
        with torch.no_grad():
            logits = model(input_ids)
        recorded["last_logits"].append(logits[:, -1, :])
        return logits

    def recording_generate(*args, **kwargs):
        recorded["tokens"] = learner_generate(*args, **kwargs)
        return recorded["tokens"]

    learner_generate = impl.generate
    tokenizer = learner_tokenizer(impl, case["model"])
    s = case["settings"]
    sampling = {k: s[k] for k in ("temperature", "top_k", "top_p")}
    with impl.substituted({"generate": recording_generate}), torch.random.fork_rng():
        torch.manual_seed(case["seed"])
        text = impl.complete(tokenizer, step, case["prompt"], s["max_new_tokens"], **sampling)
    new_text = None
    if isinstance(recorded["tokens"], torch.Tensor) and recorded["tokens"].dim() == 2:
        new_text = tokenizer.decode(recorded["tokens"][0, case["input_ids"].shape[1] :].tolist())
    return {"text": text, "new_text": new_text, **recorded}
