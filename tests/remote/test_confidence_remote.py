"""The confidence of a suggestion (issue 25) is the same in process and through a real llama-server: the mean
log-probability of its tokens, from the in-process logits and from llama-server's `n_probs` (its own API) or
`logprobs` (its OpenAI-style one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from llamaserver import LlamaServerFactory

from infill_ls.config import ModelSettings
from infill_ls.engine.base import CancelToken, GenerationParams
from infill_ls.engine.llama import LlamaEngine
from infill_ls.engine.remote import Remote, RemoteEngine

PROMPTS = {
    "return": "def add(a, b):\n    return",
    "loop": "total = 0\nfor item in items:\n    total",
    "import": "import os\nimport",
}
TOLERANCE = 0.05
"""Natural-log units per token: the two builds' logits differ in the last digits (flash attention off on both)."""


@pytest.mark.parametrize("api", ["llama.cpp", "openai"])
def test_in_process_and_llama_server_agree(
    api: str, llama_server_factory: LlamaServerFactory, smollm2_model: Path
) -> None:
    server = llama_server_factory(smollm2_model, context=2048, extra=("-fa", "off"))
    local = LlamaEngine.load(smollm2_model, ModelSettings(path=str(smollm2_model), contextSize=2048))
    remote = RemoteEngine.connect(Remote(server.url, api=api))  # type: ignore[arg-type]
    try:
        for name, text in PROMPTS.items():
            prompt = local.tokenize(text)
            params = GenerationParams(max_tokens=8)
            here = local.generate(prompt, params, CancelToken())
            there = remote.generate(prompt, params, CancelToken())
            assert there.text == here.text, name
            assert len(here.stats.logprobs) == here.stats.generated_tokens > 0, name
            assert len(there.stats.logprobs) == len(here.stats.logprobs), (name, there.stats.logprobs)
            assert all(lp <= 0 for lp in here.stats.logprobs), name
            for a, b in zip(here.stats.logprobs, there.stats.logprobs, strict=True):
                assert abs(a - b) < TOLERANCE, (name, here.stats.logprobs, there.stats.logprobs)
            confidence_here, confidence_there = here.stats.confidence(), there.stats.confidence()
            assert confidence_here is not None and confidence_there is not None
            assert abs(confidence_here - confidence_there) < TOLERANCE, name
    finally:
        local.close()
        remote.close()
