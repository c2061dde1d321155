"""Shorten one over-long line without losing the part that says why.

A Go error chain reads outside in: `failed to fetch Cluster: failed to create cluster: ...:
VcpuLimitExceeded: You have requested more vCPU capacity ...`. The head says what was being
done and the end (or an error code in the middle) says why, so cutting a line to its first
N bytes drops exactly the cause. Three steps, each only while the line is still too long,
within a byte budget and never splitting a character (`buildlog.excerpt_line` runs them):

* `compact_identifiers` shortens what a reader skims: long generated names, hosts,
  addresses, timestamps and paths (tokens with a digit or a `/`), longest first, to their
  start (and a path to its last part).
* `drop_segments` leaves out whole middle links of a `: `-separated chain that say little:
  those made mostly of identifiers, then wrappers such as `failed to create cluster`; never
  the head, the last link or one holding a protected span (the words that name the cause).
* `shorten_line` keeps the head, a window around an anchor (the span that names the cause)
  with the words after it, and the tail, joined by `…`.
"""

from __future__ import annotations

import re

MARKER = "…"
# How the room is shared: the head grows right, the anchor's window mostly right (the
# message after an error code), the tail left (the innermost cause of a chain).
HEAD_WEIGHT = 4
ANCHOR_LEFT_WEIGHT = 1
ANCHOR_RIGHT_WEIGHT = 3
TAIL_WEIGHT = 3
MIN_PART_CHARS = 8  # a budget under three of these holds only a cut head
MAX_ROUNDS = 64
WORD_CHARS = 24  # an anchor grows to whole words by at most this much each side
IDENTIFIER_CHARS = 16  # shorter tokens are not compacted
KEEP_CHARS = 10  # of a compacted identifier: its start
KEEP_PATH_CHARS = 8  # of a compacted path: its start, then its last part
MAX_LAST_PART = 24
IDENTIFIER_SHARE = 0.4  # a link this much identifier says little
_TOKEN = re.compile(rf"\S{{{IDENTIFIER_CHARS},}}")
# A link that only says what was being done when the error below it happened.
_WRAPPER = re.compile(r"(?:[Ff]ailed to|[Uu]nable to|[Cc]ould not|[Cc]annot|[Ee]rror [a-z]+ing)\b")
_LINK = re.compile(r": (?=\S)")  # between the links of a Go error chain
_TRAILING = re.compile(r"[\"'`,;:.)\]}>\\]+$")


def compact_identifiers(
    line: str, max_bytes: int, protected: list[tuple[int, int]] | tuple[()] = ()
) -> str:
    """`line` with its longest identifier-like tokens (a digit or a `/` in them) shortened,
    longest first and each only as far as needed, until it fits in `max_bytes` or none is
    left; tokens overlapping a `protected` (start, end) span, such as the words that name
    the cause, are kept."""
    excess = _size(line) - max_bytes
    if excess <= 0:
        return line
    tokens = [
        match
        for match in _TOKEN.finditer(line)
        if any(c.isdigit() or c == "/" for c in match.group())
        and not any(match.start() < end and start < match.end() for start, end in protected)
    ]
    chosen = []
    for match in sorted(tokens, key=lambda m: (-len(m.group()), m.start())):
        short = _compact(match.group(), excess)
        saved = _size(match.group()) - _size(short)
        if saved > 0:
            chosen.append((match.start(), match.end(), short))
            excess -= saved
            if excess <= 0:
                break
    for start, end, short in sorted(chosen, reverse=True):
        line = line[:start] + short + line[end:]
    return line


def drop_segments(
    line: str, max_bytes: int, protected: list[tuple[int, int]] | tuple[()] = ()
) -> str:
    """`line` with middle links of its `a: b: c` chain replaced by `…` until it fits in
    `max_bytes` or none is left. Only links that say little are left out: those made
    mostly of identifiers (a pull spec, a host), then wrappers (`failed to create
    cluster`), outer ones first; never the last link, one that starts in the head (the first
    quarter of the budget) or one overlapping a `protected` (start, end) span."""
    excess = _size(line) - max_bytes
    if excess <= 0:
        return line
    starts = [0, *(m.end() for m in _LINK.finditer(line))]
    links = [(start, nxt - 2) for start, nxt in zip(starts, starts[1:], strict=False)]
    links.append((starts[-1], len(line)))
    ranked: list[tuple[int, float, int]] = []
    for index, (start, end) in enumerate(links[1:-1], 1):
        if start < max_bytes // 4 or any(s < end and start < e for s, e in protected):
            continue
        text = line[start:end]
        share = _identifier_share(text)
        if share >= IDENTIFIER_SHARE:
            ranked.append((0, -share, index))
        elif _WRAPPER.match(text):
            ranked.append((1, 0.0, index))
    dropped: set[int] = set()
    for *_, index in sorted(ranked):
        dropped.add(index)
        if _size(_render_links(line, links, dropped)) <= max_bytes:
            break
    return _render_links(line, links, dropped) if dropped else line


def _render_links(line: str, links: list[tuple[int, int]], dropped: set[int]) -> str:
    parts: list[str] = []
    for index, (start, end) in enumerate(links):
        if index not in dropped:
            parts.append(line[start:end])
        elif index - 1 not in dropped:  # a run of dropped links is one `…`
            parts.append(MARKER)
    return ": ".join(parts)


def _identifier_share(text: str) -> float:
    """The share of `text` in identifier-like tokens (8 or more characters, with a digit or
    a `/`); a status code such as `Error 403` is not one."""
    tokens = [t for t in text.split() if len(t) >= 8 and any(c.isdigit() or c == "/" for c in t)]
    return sum(len(t) for t in tokens) / max(len(text), 1)


def _compact(token: str, need: int) -> str:
    """`token` shorter by about `need` characters, to no less than its start (a path: its
    start and its last part), with `…` for what was left out; trailing punctuation stays."""
    trail = _TRAILING.search(token)
    core, tail = (token[: trail.start()], trail.group()) if trail else (token, "")
    slash = core.rfind("/", 1, len(core) - 1)
    last = core[slash:][:MAX_LAST_PART] if slash > 0 else ""
    keep = KEEP_PATH_CHARS if last else KEEP_CHARS
    head = max(keep, len(core) - len(last) - _size(MARKER) - need)
    head = min(head, slash if last else len(core))
    short = core[:head] + MARKER + last
    return short + tail if len(short) < len(core) else token


def shorten_line(line: str, max_bytes: int, anchor: tuple[int, int] | None = None) -> str:
    """`line` in at most `max_bytes` of UTF-8: whole when it fits; else its head, a window
    around `anchor` (start, end) and its tail, with `…` where text was left out."""
    if max_bytes <= 0:
        return ""
    if _size(line) <= max_bytes:
        return line
    anchor = _word_span(line, anchor) if anchor else None
    chars = max_bytes
    for _ in range(MAX_ROUNDS):
        if chars < 3 * MIN_PART_CHARS:
            break
        text = _render(line, _choose(len(line), chars, anchor))
        excess = _size(text) - max_bytes
        if excess <= 0:
            return text
        chars -= excess
    return _head(line, max_bytes)


def _choose(length: int, chars: int, anchor: tuple[int, int] | None) -> list[tuple[int, int]]:
    """Disjoint (start, end) spans of a `length`-character line, in order, whose characters
    and `…` markers (one character each here) add up to at most `chars`."""
    # [start, end, left weight, right weight]
    parts = [[0, 0, 0, HEAD_WEIGHT], [length, length, TAIL_WEIGHT, 0]]
    if anchor is not None:
        start, end = anchor
        end = min(end, start + chars // 3)  # a long match must leave room for the rest
        parts.insert(1, [start, end, ANCHOR_LEFT_WEIGHT, ANCHOR_RIGHT_WEIGHT])
    weights = sum(p[2] + p[3] for p in parts)
    for _ in range(MAX_ROUNDS):
        room = chars - _cost(_merge(parts), length)
        if room <= 0:
            break
        before = [tuple(p) for p in parts]
        for part in parts:
            if part[2]:
                part[0] = max(part[0] - max(room * part[2] // weights, 1), 0)
            if part[3]:
                part[1] = min(part[1] + max(room * part[3] // weights, 1), length)
        if [tuple(p) for p in parts] == before:
            break
    spans = _merge(parts)
    while _cost(spans, length) > chars:  # growth of at least 1 may overshoot a little
        spans = _trim(spans)
    return spans


def _merge(parts: list[list[int]]) -> list[tuple[int, int]]:
    """The parts' union as disjoint spans; the head stays even when empty."""
    spans: list[tuple[int, int]] = []
    for start, end, *_ in sorted(parts):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        elif end > start or start == 0:
            spans.append((start, end))
    return spans


def _cost(spans: list[tuple[int, int]], length: int) -> int:
    """Characters of the rendering: the spans and a marker before, between and after."""
    markers = len(spans) - 1 + (spans[0][0] > 0) + (spans[-1][1] < length)
    return sum(end - start for start, end in spans) + markers


def _trim(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One character less, from the longest span (the tail loses its first one)."""
    index = max(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0])
    start, end = spans[index]
    if index == len(spans) - 1 and index > 0:
        start += 1
    else:
        end -= 1
    spans = [*spans[:index], (start, end), *spans[index + 1 :]]
    return [(s, e) for s, e in spans if e > s or s == 0]


def _render(line: str, spans: list[tuple[int, int]]) -> str:
    out: list[str] = []
    previous = 0
    for start, end in spans:
        if start > previous:
            out.append(MARKER)
        out.append(line[start:end])
        previous = end
    if previous < len(line):
        out.append(MARKER)
    return "".join(out)


def _word_span(line: str, anchor: tuple[int, int]) -> tuple[int, int]:
    """The anchor widened to whole words (`LimitExceeded` -> `VcpuLimitExceeded:`), by at
    most WORD_CHARS each side (a URL is one long "word")."""
    start, end = max(anchor[0], 0), min(anchor[1], len(line))
    first, last = max(start - WORD_CHARS, 0), min(end + WORD_CHARS, len(line))
    while start > first and not line[start - 1].isspace():
        start -= 1
    while end < last and not line[end].isspace():
        end += 1
    return start, max(end, start)


def _head(line: str, max_bytes: int) -> str:
    room = max_bytes - _size(MARKER)
    if room <= 0:
        return _cut(line, max_bytes)
    return _cut(line, room) + MARKER


def _cut(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[: max(max_bytes, 0)].decode("utf-8", "ignore")


def _size(text: str) -> int:
    return len(text.encode("utf-8"))
