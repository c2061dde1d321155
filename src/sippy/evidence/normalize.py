"""A noise-free key for a log or failure line, for de-duplication and clustering.

The same error logged on every retry, or by every pod of a ReplicaSet, differs only in
timestamps, durations, addresses, generated names and counters. Replacing those with
placeholders makes the copies equal. Linear-time regexes only; never raises.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), placeholder)
    for pattern, placeholder in (
        # logrus / ci-operator prefixes: INFO[2024-05-14T08:51:33Z], INFO[0123]
        (r"\b(?:INFO|WARN|WARNING|ERRO|ERROR|DEBU|DEBUG|FATA|FATAL)\[[^\]\n]{1,40}\]", "<ts>"),
        # RFC 3339 and "2024-05-14 08:51:33.123"
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
            "<ts>",
        ),
        # klog: I0514 08:51:33.123456
        (r"\b[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d+", "<ts>"),
        # syslog-ish: May 13 20:43:18.000
        (
            r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} "
            r"\d{2}:\d{2}:\d{2}(?:\.\d+)?",
            "<ts>",
        ),
        (r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?\b", "<ts>"),
        (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
         "<uuid>"),
        (r"\bsha256:[0-9a-f]{12,64}\b", "<hex>"),
        (r"\b(?:0x)?[0-9a-fA-F]{16,}\b", "<hex>"),
        (r"\bci-op-[a-z0-9]{8}\b", "<ns>"),
        (r"\be2e-test-[a-z0-9-]+?-[a-z0-9]{5}\b", "<ns>"),
        (r"\bip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?:\.[a-z0-9.-]+internal)?\b", "<node>"),
        (
            r"\[?(?:(?:[0-9a-fA-F]{1,4}:){1,7}:(?:[0-9a-fA-F]{1,4}:?){0,7}"
            r"|(?:[0-9a-fA-F]{1,4}:){4,7}[0-9a-fA-F]{1,4})\]?(?::\d+)?",
            "<ip>",
        ),
        (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?::\d{1,5})?\b", "<ip>"),
        # ReplicaSet pods: name-7d9f8b6c5d-x2x9z; StatefulSet/Job pods: name-abc12
        (r"-[a-z0-9]{8,10}-[a-z0-9]{5}\b", "-<pod>"),
        (r"-(?=[a-z0-9]*\d)[a-z0-9]{5}\b", "-<pod>"),
        (r"\b(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s))+\b", "<dur>"),
        (r"\b\d+(?:\.\d+)?\b", "<n>"),
        (r"\s+", " "),
    )
)
MAX_KEY_CHARS = 4000


def normalize_line(text: str) -> str:
    """`text` with volatile parts replaced by placeholders, whitespace collapsed."""
    if not isinstance(text, str):
        return ""
    key = text[:MAX_KEY_CHARS]
    for pattern, placeholder in _RULES:
        key = pattern.sub(placeholder, key)
    return key.strip()
