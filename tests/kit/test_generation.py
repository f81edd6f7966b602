"""Whole-stack generation: a divergence from HF passes only if explained, and the loop that
replays the learner's logits (`reference.generate`) is HF's own loop token for token, as are
kit grade's lent loop, sampler, cache and model in plain torch (grader/probes/parts)."""

import pytest
import torch

from grader import reference
from grader.checks import generate as checks
from grader.checks import llama
from grader.compare import Tolerance
from grader.probes.generate import model_of
from grader.probes.parts import generate as plain
from grader.probes.parts.cached import CachedLlama
from grader.registry import CheckFailed


def noisy_run(case, noise: float):
    """A stand-in for a learner's stack: HF's logits plus noise, sampled by HF's loop."""
    model = llama.hf_model(case)
    g = torch.Generator().manual_seed(0)
    recorded = []

    def step(input_ids):
        with torch.no_grad():
            logits = model(input_ids).logits
        logits = logits + noise * torch.randn(logits.shape, generator=g)
        recorded.append(logits[:, -1, :])
        return logits

    settings = {**case["settings"], "use_cache": False}
    with torch.random.fork_rng():
        torch.manual_seed(case["seed"])
        tokens = reference.generate(step, case["input_ids"], **settings)
    return tokens, recorded


@pytest.fixture
def diverged():
    case = checks.sampled(use_cache=False)
    tokens, logits = noisy_run(case, noise=0.5)
    expected = checks.hf_generate(case)
    assert not torch.equal(tokens, expected), "the noise should change some token"
    return case, tokens, logits, expected


def test_explained_divergence_passes(diverged, monkeypatch):
    # Within a tolerance that covers the noise, the divergence is explained.
    monkeypatch.setattr(checks, "TOLERANCE", Tolerance(rtol=0.0, atol=5.0))
    checks.explain_divergence(*diverged, hint="")


def test_logits_beyond_tolerance_fail(diverged):
    with pytest.raises(CheckFailed, match="logits of new token"):
        checks.explain_divergence(*diverged, hint="")


def test_tokens_the_sampler_would_not_draw_fail(diverged, monkeypatch):
    monkeypatch.setattr(checks, "TOLERANCE", Tolerance(rtol=0.0, atol=5.0))
    case, tokens, logits, expected = diverged
    tampered = tokens.clone()
    tampered[0, -1] = (tampered[0, -1] + 1) % case["config"]["vocab_size"]
    with pytest.raises(CheckFailed, match="HF's sampler on your logits draws others"):
        checks.explain_divergence(case, tampered, logits, expected, hint="")


CASES = [
    checks.greedy(use_cache=False),
    checks.sampled(use_cache=True),
    checks.eos_mid_batch(use_cache=False),
    checks.eos_mid_batch(use_cache=True, pad_token_id=None),
]
NAMES = ["greedy", "sampled-cache", "eos", "eos-cache-no-pad"]


def hf_callable(model):
    """LlamaForCausalLM behind the chapter's model protocol."""

    def call(input_ids, cache=None):
        with torch.no_grad():
            return model(input_ids, past_key_values=cache, use_cache=cache is not None).logits

    return call


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_reference_loop_is_hf_generate(case):
    model = hf_callable(llama.hf_model(case))
    with torch.random.fork_rng():
        torch.manual_seed(case["seed"])
        tokens = reference.generate(model, case["input_ids"], **case["settings"])
    assert torch.equal(tokens, checks.hf_generate(case))


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_the_lent_loop_sampler_cache_and_model_are_hf_generate(case):
    model = model_of(case, CachedLlama)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(case["seed"])
        tokens = plain.generate(model, case["input_ids"], **case["settings"])
    assert torch.equal(tokens, checks.hf_generate(case))
