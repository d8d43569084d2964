"""The settings tree: defaults, overlays and per-key fallback with messages."""

from __future__ import annotations

from typing import Any

import pytest

from infill_ls.config import Settings, parse_settings, to_wire


def test_defaults() -> None:
    wire = to_wire(Settings())
    assert wire["model"] == {"path": "", "repo": "TheBloke/CodeLlama-7B-GGUF", "file": "codellama-7b.Q4_K_M.gguf",
                             "gpuLayers": -1, "threads": 0, "contextSize": 4096}
    assert wire["completion"] == {"enable": True, "debounceMs": 150, "adaptiveDebounce": True, "maxTokens": 64,
                                  "temperature": 0.0,
                                  "prefixTokens": 1536, "suffixTokens": 512, "multiline": "auto", "menu": "auto",
                                  "alternatives": 3, "warmMemoryMb": -1, "trigger": "auto",
                                  "triggerLanguages": {"markdown": "manual", "plaintext": "manual"},
                                  "minConfidence": None}
    assert wire["stats"] == {"enable": True}
    assert wire["engine"] == {"url": "", "api": "auto", "model": "", "timeoutMs": 30_000, "speculate": False,
                              "caFile": ""}


@pytest.mark.parametrize(
    ("raw", "path", "value", "error"),
    [
        pytest.param({"completion": {"debounceMs": 20}}, ("completion", "debounceMs"), 20, None, id="int"),
        pytest.param({"completion": {"temperature": 1}}, ("completion", "temperature"), 1.0, None, id="int-as-float"),
        pytest.param({"model": {"gpuLayers": 12.0}}, ("model", "gpuLayers"), 12, None, id="whole-float-as-int"),
        pytest.param({"completion": {"debounceMs": "fast"}}, ("completion", "debounceMs"), 150,
                     "infill.completion.debounceMs", id="bad-type"),
        pytest.param({"completion": {"debounceMs": -5}}, ("completion", "debounceMs"), 150,
                     "infill.completion.debounceMs", id="out-of-range"),
        pytest.param({"completion": {"multiline": "sometimes"}}, ("completion", "multiline"), "auto",
                     "infill.completion.multiline", id="bad-choice"),
        pytest.param({"completion": {"enable": "yes"}}, ("completion", "enable"), True,
                     "infill.completion.enable", id="bad-bool"),
        pytest.param({"completion": {"menu": True}}, ("completion", "menu"), "always", None,
                     id="menu-true-as-before-always"),
        pytest.param({"completion": {"menu": False}}, ("completion", "menu"), "never", None,
                     id="menu-false-as-before-never"),
        pytest.param({"completion": {"menu": 1}}, ("completion", "menu"), "auto", "infill.completion.menu",
                     id="menu-number-is-bad"),
        pytest.param({"completion": {"adaptiveDebounce": "off"}}, ("completion", "adaptiveDebounce"), True,
                     "infill.completion.adaptiveDebounce", id="bad-adaptive-debounce"),
        pytest.param({"completion": {"alternatives": 1}}, ("completion", "alternatives"), 1, None,
                     id="alternatives-one"),
        pytest.param({"completion": {"warmMemoryMb": 0}}, ("completion", "warmMemoryMb"), 0, None,
                     id="warm-memory-zero"),
        pytest.param({"completion": {"warmMemoryMb": -2}}, ("completion", "warmMemoryMb"), -1,
                     "infill.completion.warmMemoryMb", id="warm-memory-below-automatic"),
        pytest.param({"completion": {"alternatives": 11}}, ("completion", "alternatives"), 3,
                     "infill.completion.alternatives", id="alternatives-above-10"),
        pytest.param({"completion": {"alternatives": 0}}, ("completion", "alternatives"), 3,
                     "infill.completion.alternatives", id="alternatives-zero"),
        pytest.param({"completion": {"trigger": "manual"}}, ("completion", "trigger"), "manual", None,
                     id="trigger-manual"),
        pytest.param({"completion": {"trigger": "never"}}, ("completion", "trigger"), "auto",
                     "infill.completion.trigger", id="trigger-bad-choice"),
        pytest.param({"completion": {"triggerLanguages": {"python": "manual"}}}, ("completion", "triggerLanguages"),
                     {"python": "manual"}, None, id="trigger-languages-replace-the-default"),
        pytest.param({"completion": {"triggerLanguages": {"python": "manual", "go": "sometimes"}}},
                     ("completion", "triggerLanguages"), {"python": "manual"}, "infill.completion.triggerLanguages",
                     id="trigger-languages-bad-entry-dropped"),
        pytest.param({"completion": {"triggerLanguages": ["markdown"]}}, ("completion", "triggerLanguages"),
                     {"markdown": "manual", "plaintext": "manual"}, "infill.completion.triggerLanguages",
                     id="trigger-languages-not-an-object"),
        pytest.param({"completion": {"minConfidence": -1.5}}, ("completion", "minConfidence"), -1.5, None,
                     id="min-confidence"),
        pytest.param({"completion": {"minConfidence": None}}, ("completion", "minConfidence"), None, None,
                     id="min-confidence-null-is-off"),
        pytest.param({"completion": {"minConfidence": 0.5}}, ("completion", "minConfidence"), None,
                     "infill.completion.minConfidence", id="min-confidence-above-zero"),
        pytest.param({"completion": {"minConfidence": "low"}}, ("completion", "minConfidence"), None,
                     "infill.completion.minConfidence", id="min-confidence-not-a-number"),
        pytest.param({"stats": {"enable": False}}, ("stats", "enable"), False, None, id="stats-off"),
        pytest.param({"stats": {"enable": "no"}}, ("stats", "enable"), True, "infill.stats.enable",
                     id="stats-bad-bool"),
        pytest.param({"model": "big"}, ("model", "path"), "", "infill.model", id="section-not-object"),
        pytest.param({"model": {"colour": 1}}, ("model", "path"), "", "infill.model.colour", id="unknown-key"),
        pytest.param({"model": {"path": 3}}, ("model", "path"), "", "infill.model.path", id="bad-string"),
        pytest.param({"engine": {"url": "http://gpu-box:8080"}}, ("engine", "url"), "http://gpu-box:8080", None,
                     id="engine-url"),
        pytest.param({"engine": {"url": "https://[::1]:8443/v1"}}, ("engine", "url"), "https://[::1]:8443/v1", None,
                     id="engine-url-ipv6-with-path"),
        pytest.param({"engine": {"url": "gpu-box:8080"}}, ("engine", "url"), "", "infill.engine.url",
                     id="engine-url-without-scheme"),
        pytest.param({"engine": {"url": "ftp://gpu-box"}}, ("engine", "url"), "", "infill.engine.url",
                     id="engine-url-other-scheme"),
        pytest.param({"engine": {"url": "http://gpu-box:port"}}, ("engine", "url"), "", "infill.engine.url",
                     id="engine-url-bad-port"),
        pytest.param({"engine": {"api": "vllm"}}, ("engine", "api"), "auto", "infill.engine.api", id="engine-api"),
        pytest.param({"engine": {"timeoutMs": 10}}, ("engine", "timeoutMs"), 30_000, "infill.engine.timeoutMs",
                     id="engine-timeout-too-short"),
        pytest.param({"engine": {"apiKey": "secret"}}, ("engine", "url"), "", "infill.engine.apiKey",
                     id="api-key-is-not-a-setting"),
    ],
)
def test_parse(raw: dict[str, Any], path: tuple[str, str], value: Any, error: str | None) -> None:
    settings, errors = parse_settings(raw)
    assert getattr(getattr(settings, path[0]), path[1]) == value
    if error is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(error)


def test_absent_keys_keep_the_base() -> None:
    base, _ = parse_settings({"completion": {"maxTokens": 9}})
    settings, errors = parse_settings({"completion": {"debounceMs": 5}}, base)
    assert (settings.completion.maxTokens, settings.completion.debounceMs, errors) == (9, 5, [])


@pytest.mark.parametrize("raw", [None, {}], ids=["none", "empty"])
def test_nothing_gives_defaults(raw: Any) -> None:
    assert parse_settings(raw) == (Settings(), [])
