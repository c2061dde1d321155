"""The token estimate errs high: checked against real tokenizers on real CI text.

Mistral's tokenizers ship inside the `mistral-common` wheel (a dev dependency), so they
work offline: SentencePiece v1 (Mistral 7B, the README's `mistral`, a 32k vocabulary that
splits logs finely) and Tekken (a tiktoken-style 131k vocabulary, like Llama 3's).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sippy.evidence.bundle import build_evidence
from sippy.evidence.tokens import estimate_tokens

TOKENIZERS = ("tokenizer.model.v1", "tekken_240911.json")
SAMPLES = [
    "fail [github.com/openshift/origin/test/e2e.go:123]: Expected <int>: 3 to equal 0",
    'level=error msg="Cluster operator authentication Degraded is True with OAuthServerDown"',
    "I0514 08:51:33.123456   27 memcache.go:265] 10.0.128.44:6443 i/o timeout",
    "ci-op-x2k4j9zq/e2e-aws-ovn-ipi-install-install-7d9f8b6c5d-x2x9z ContainerFailed",
    "Ünïcödé ✓ 日本語のテキスト 🚀🚀 ascii",
    "0123456789" * 20,
    "a" * 500,
    "CamelCaseIdentifierWithManyWordsInIt NotReady KubeletNotReady",
    "\t\t    indented    spaces    \n\n\n",
]


@pytest.fixture(scope="module")
def tokenizers():
    mistral_common = pytest.importorskip(
        "mistral_common", reason="mistral-common (dev dependency) not installed"
    )
    from mistral_common.tokens.tokenizers.mistral import MistralTokenizer

    data = Path(os.path.dirname(mistral_common.__file__)) / "data"
    return {
        name: MistralTokenizer.from_file(str(data / name)).instruct_tokenizer.tokenizer
        for name in TOKENIZERS
    }


def _real(tokenizer, text: str) -> int:
    return len(tokenizer.encode(text, bos=False, eos=False))


@pytest.mark.parametrize("text", SAMPLES)
def test_estimate_is_not_below_real_tokenizers(tokenizers, text):
    estimate = estimate_tokens(text)
    for name, tokenizer in tokenizers.items():
        assert _real(tokenizer, text) <= estimate, name


def test_estimate_holds_on_real_ci_text_as_evidence(tokenizers, realdata):
    """Every JUnit failure text and build-log excerpt in realdata, as the evidence shows it."""
    texts = []
    for path in sorted(realdata.rglob("*")):
        if path.suffix in (".xml", ".txt") and path.is_file() and path.stat().st_size < 4_000_000:
            texts.append(path.read_text("utf-8", "replace"))
    assert texts
    checked = 0
    for text in texts:
        for start in range(0, min(len(text), 24_000), 6000):
            chunk = text[start : start + 6000]
            shown = build_evidence(_as_summary(chunk), 100_000).text
            estimate = estimate_tokens(shown)
            for tokenizer in tokenizers.values():
                assert _real(tokenizer, shown) <= estimate
            checked += 1
    assert checked > 100


def _as_summary(output: str) -> dict:
    return {
        "id": 1,
        "name": "job",
        "release": "4.18",
        "overallResult": "F",
        "reason": "Tests failed",
        "prowState": "failure",
        "durationSeconds": 60.0,
        "testCount": 1,
        "testFailureCount": 1,
        "testFailures": {"test": output},
    }
