"""A noise-free key for a log or failure line, for de-duplication and clustering.

The same error logged on every retry, by every pod of a ReplicaSet or in every run of a job
differs only in timestamps, durations, addresses, generated names and counters. Replacing
those with placeholders (`<ts>`, `<dur>`, `<uuid>`, `<hex>`, `<ip>`, `<pod>`, `<ns>`,
`<node>`, `<n>`) makes the copies equal.

Cost matters: the build-log scanner keys every matching line. Each regex is linear and starts
with a literal or a character class (so the engine skips ahead in C), cheap substring tests
skip rules that cannot apply, and input is capped. A leading timestamp (`time="..."`,
`INFO[...]`, klog, RFC 3339) is split off before the rest is normalised, which lets
`LineNormalizer` memoise the rest: repeated messages usually differ only in that prefix.
"""

from __future__ import annotations

import ipaddress
import re

MAX_KEY_CHARS = 4000  # input beyond this is not looked at; keys are cut to it too

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_LEVELS = "INFO|WARN|WARNING|ERRO|ERROR|DEBU|DEBUG|FATA|FATAL|PANI|PANIC|TRAC|TRACE"
_TIME_ZONE = (  # the rest of an RFC 3339 or Go time after the date
    r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|\ ?[+-]\d{2}:?\d{2}(?:\ [A-Z]{2,5}\b)?)?"
    r"(?: m=[+-]\d+(?:\.\d+)?)?"
)
_HEAD = re.compile(
    r"\s*(?:"
    r'(?P<kv>time="[^"\n]{0,64}")'  # logrus key=value
    rf"|(?P<level>{_LEVELS})\[[^\]\n]{{1,40}}\]"  # logrus text: INFO[2024-...], INFO[0123]
    r"|(?P<klog>[IWEF])\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?"  # klog: I0514 08:51:33.123456
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}[T ]{_TIME_ZONE})"
    r"|(?P<bracket>\[(?:[A-Z][a-z]{2},? )?[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2}"
    r"(?: [A-Z]{2,5})?(?: \d{4})?\])"  # [Fri Mar 27 04:56:34 UTC 2026]
    r")"
)
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_MONTH_TS = re.compile(  # syslog and Go time.String(): [Fri ]May 14 13:45:48.374[ UTC 2026]
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|{_MONTHS})"
    r"(?<![A-Za-z]\w{3})"  # a word start, checked after the name so the scan stays fast
    rf"(?:,? +(?:{_MONTHS}))?,? +\d{{1,2}},? +(?:\d{{4}} +)?\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d+)?"
    r"(?: (?:UTC|GMT|[A-Z]{2,4}T))?(?: \d{4}\b)?"
)
_UUID = re.compile(
    r"[0-9a-fA-F](?<!\w[0-9a-fA-F])[0-9a-fA-F]{7}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_NODE = re.compile(
    r"ip-(?<!\wip-)\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?:\.[a-z0-9-]+)*"  # ip-10-0-1-2.ec2.internal
    r"|ci-op-(?<!\wci-op-)[a-z0-9]{8}(?:-[a-z0-9]{4,6}){0,2}"
    r"-(?:master|worker|bootstrap|infra)(?:-[a-z0-9]{1,20}){0,4}(?:\.[a-z0-9-]+)*\b"
)
_NAMESPACE = re.compile(
    r"ci-op-(?<!\wci-op-)[a-z0-9]{8}(?:-[a-z0-9]{5}){0,2}\b"  # ci-op-x2k4j9zq[-cae79[-htjbh]]
    r"|e2e-test-(?<!\we2e-test-)[a-z0-9-]*-[a-z0-9]{5}\b"
)
# A ReplicaSet's pod is name-<8..10>-<5>, any other generated name name-<5>. Real ones use the
# consonants and digits of the k8s "safe" alphabet; a digit also tells them from words
# ("-tests", "-openshift").
_HASH = r"(?:(?=[a-z]{0,9}\d)[a-z0-9]{8,10}|[bcdfghjklmnpqrstvwxz2-9]{8,10})"
_SUFFIX = r"(?:(?=[a-z]{0,4}\d)[a-z0-9]{5}|[bcdfghjklmnpqrstvwxz2-9]{5})"
_POD = re.compile(rf"-{_HASH}-{_SUFFIX}\b|-{_SUFFIX}\b")
_DIGEST = re.compile(r"sha(?:256|512):[0-9a-fA-F]{8,128}\b")
_IPV6 = re.compile(  # loose: every candidate is checked by `ipaddress`
    r"(?<![\w:.])\[?[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?:%\w+)?\]?(?::\d{1,5})?(?![\w:])"
)
_UNIT = r"(?:ns|us|µs|ms|h|m|s)"
# Everything that starts with a digit at a word start, in one pass; the first alternative
# that matches wins.
_DIGITS = re.compile(
    r"\d(?<!\w\d)(?:"
    rf"(?P<ts>\d{{3}}-\d{{2}}-\d{{2}}(?:[T ]{_TIME_ZONE}"  # RFC 3339, Go
    r"|-\d{6}\b|\b)"  # a date; a payload's 2026-05-14-085133
    r"|\d-\d{2}-\d{4}T\d{2}:\d{2}:\d{2}(?:\.\d+)?"  # 27-03-2026T02:13:25
    r"|\d?/\d{1,2}/\d{2,4},? \d{1,2}:\d{2}:\d{2}(?:\.\d+)?"  # 05/13/26 20:24:01.078
    r"|\d?:\d{2}:\d{2}(?:\.\d+)?\b)"  # 20:24:01
    r"|(?P<ip>\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?:/\d{1,2})?(?::\d{1,5})?\b)"
    r"|(?P<hex>(?:x[0-9a-fA-F]+|[0-9a-fA-F]{15,}|(?=[0-9a-f]*[a-f])[0-9a-f]{6,14})\b)"
    rf"|(?P<dur>\d*(?:\.\d+)?{_UNIT}(?:\d+(?:\.\d+)?{_UNIT})*\b)"
    r"|(?P<n>\d*(?:\.\d+)*\b)"
    r")"
)
_PLACEHOLDERS = {"ts": "<ts>", "ip": "<ip>", "hex": "<hex>", "dur": "<dur>", "n": "<n>"}
_HEX_WORD = re.compile(  # digests and short commits that start with a letter
    r"[a-fA-F](?<!\w[a-fA-F])(?:[0-9a-fA-F]{15,}|(?=[0-9a-f]*[0-9])[0-9a-f]{6,14})\b"
)
_KLOG = re.compile(r"\b([IWEF])\d{4} <ts>")  # a klog prefix in mid-line, once its time went


def normalize_line(text: str) -> str:
    """`text` with volatile parts replaced by placeholders and whitespace collapsed."""
    head, body = split_timestamp(text)
    return _join(head, _normalize_body(body))


class LineNormalizer:
    """`normalize_line` with a bounded memo of line bodies (the text after a leading
    timestamp): a message repeated with new timestamps then costs one dict lookup."""

    def __init__(self, max_chars: int = 1 << 18) -> None:
        self.max_chars = max_chars
        self._memo: dict[str, str] = {}
        self._chars = 0

    def __call__(self, text: str) -> str:
        return self.key(*split_timestamp(text))

    def key(self, head: str, body: str) -> str:
        """`normalize_line` of a line that `split_timestamp` gave as (head, body)."""
        key = self._memo.get(body)
        if key is None:
            key = _normalize_body(body)
            size = len(body) + len(key)
            if self._chars + size > self.max_chars:
                self._memo.clear()
                self._chars = 0
            self._memo[body] = key
            self._chars += size
        return _join(head, key)


def split_timestamp(text: str) -> tuple[str, str]:
    """(a placeholder for the leading timestamp, or "", the rest): `INFO[...]` gives
    `INFO[<ts>]`, klog `W0514 08:51:33.1` gives `W<ts>`. ANSI colours are removed first."""
    if not isinstance(text, str):
        return "", ""
    text = text[:MAX_KEY_CHARS]
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    match = _HEAD.match(text)
    if match is None:
        return "", text
    if match["kv"]:
        head = 'time="<ts>"'
    elif match["level"]:
        head = f"{match['level']}[<ts>]"
    elif match["klog"]:
        head = f"{match['klog']}<ts>"
    else:
        head = "[<ts>]" if match["bracket"] else "<ts>"
    return head, text[match.end() :]


def _normalize_body(text: str) -> str:
    """The rules in an order where none undoes another; each skipped when it cannot apply."""
    if "-" in text:
        if text.count("-") >= 4:
            text = _UUID.sub("<uuid>", text)
        if "ip-" in text or "ci-op-" in text:
            text = _NODE.sub("<node>", text)
        if "ci-op-" in text or "e2e-test-" in text:
            text = _NAMESPACE.sub("<ns>", text)
        text = _POD.sub("-<pod>", text)
    if ":" in text:
        if "sha" in text:
            text = _DIGEST.sub("<hex>", text)
        if "::" in text:
            text = _IPV6.sub(_ipv6, text)
        text = _MONTH_TS.sub("<ts>", text)
    text = _DIGITS.sub(_digit_token, text)
    text = _HEX_WORD.sub("<hex>", text)
    if "<ts>" in text:
        text = _KLOG.sub(r"\1<ts>", text)
    return " ".join(text.split())


def _join(head: str, body: str) -> str:
    key = f"{head} {body}" if head and body else head or body
    return key[:MAX_KEY_CHARS]  # placeholders can be longer than what they replace


def _digit_token(match: re.Match[str]) -> str:
    return _PLACEHOLDERS[match.lastgroup or "n"]


def _ipv6(match: re.Match[str]) -> str:
    """Candidates are cheap to find but loose (C++ `a::b`); keep only real addresses."""
    text = match.group()
    core = text[1:].split("]", 1)[0] if text.startswith("[") else text
    try:
        ipaddress.IPv6Address(core.split("%", 1)[0])
    except ValueError:
        return text
    return "<ip>"
