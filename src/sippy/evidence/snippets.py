"""Short failure excerpts that keep the line a CI engineer would look for.

Sippy keeps the last 256 bytes of a failure (`output[len-256:]`), which usually drops the
decisive `fail [file.go:123]: ...` line at the top of an openshift-tests failure and can
split a UTF-8 character. `failure_snippet` picks lines by what they say instead: decisive
lines first, then the first line and the tail, in original order with `…` where lines were
left out, within a byte budget that never cuts a character.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

from sippy.evidence.buildlog import excerpt_line, line_score

MARKER = "…"
SIPPY_TAIL_BYTES = 256
CONTEXT_LINES = 3  # lines after the best decisive line (Gomega prints the values there)
_CONTINUES = re.compile(r"(?::|Expected|[{\[(])\s*$")  # the message goes on below
DECISIVE_SHARE = 0.7  # of the budget, so the first line and the tail still get room
DECISIVE_LINE_BYTES = 640  # the best decisive line is kept whole up to this (or the budget)
TINY_BUDGET = 16

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    # colours whose ESC became U+FFFD: Go's JUnit writer replaces characters XML cannot hold
    r"|\ufffd\[[0-9;]{0,32}m"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Most decisive first; a line's priority is the first pattern it matches.
_DECISIVE = (
    re.compile(r"(?i)\bfail \[[^\]]*\]:"),  # openshift-tests: location and message
    re.compile(r"\bpanic:"),
    re.compile(r"\[FAILED\]|^\s*--- FAIL:"),  # Ginkgo v2 / go test: location only
    re.compile(r"\b(?:[Ee]rror|ERROR):|level=error"),
    re.compile(r"\b[Ee]xpected\b.*\bgot\b|\bExpected\b"),
    re.compile(r"(?i)timed out|\btimeout\b|deadline exceeded"),
)


def tail_256(text: str) -> str:
    """Sippy's original excerpt: the last 256 BYTES, decoded with U+FFFD for split characters."""
    data = _as_text(text).encode("utf-8", "replace")
    if len(data) <= SIPPY_TAIL_BYTES:
        return data.decode("utf-8", "replace")
    return data[-SIPPY_TAIL_BYTES:].decode("utf-8", "replace")


def failure_snippet(text: str, max_bytes: int = 1024) -> str:
    """At most `max_bytes` of UTF-8 holding the lines that explain a failure.

    Lines are cleaned (ANSI codes, control characters and blank lines removed, runs of a
    repeated line collapsed to one) and over-long lines shortened: to half the budget, but
    the most decisive line to DECISIVE_LINE_BYTES (or the budget), since its end often names
    the cause; a decisive line that must be cut keeps its head, its telling part and its
    tail (`buildlog.excerpt_line`), any other its head. If everything fits it is returned
    whole.
    Otherwise lines are chosen in this order while they fit: decisive lines by priority
    (`fail [..]:`, `panic:`, `[FAILED]`, `Error:`/`level=error`, `expected .. got`,
    `timed out`, then what the build-log scanner ranks), with the few lines after the best
    one when its message continues there (Gomega's `Expected` / values), up to 70% of the
    budget; the first line; the last lines, newest first; then any further decisive lines.
    They are printed in their original order, with a `…` line wherever lines were skipped.
    Deterministic; never raises.
    """
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
        return ""
    lines = _clean_lines(_as_text(text))
    if not lines:
        return ""
    ranked = _decisive(lines)
    if max_bytes < TINY_BUDGET:  # no room for context or markers: the most telling line
        return _shorten(lines[ranked[0]], max_bytes) if ranked else _head(lines[-1], max_bytes)
    gap_room = 2 * (_size(MARKER) + 1)
    cap = max(max_bytes // 2, min(max_bytes - gap_room, 160))
    best_cap = max(cap, min(max_bytes - gap_room, DECISIVE_LINE_BYTES))
    caps = dict.fromkeys(ranked, cap)
    if ranked:
        caps[ranked[0]] = best_cap
    lines = [
        _shorten(line, caps[i]) if i in caps else _head(line, cap) for i, line in enumerate(lines)
    ]
    whole = "\n".join(lines)
    if _size(whole) <= max_bytes:
        return whole
    picker = _Picker(lines, max_bytes)
    if ranked:
        best = ranked[0]
        picker.add(best)
        if _CONTINUES.search(lines[best]):
            for index in range(best + 1, min(best + 1 + CONTEXT_LINES, len(lines))):
                picker.add(index, limit=int(max_bytes * DECISIVE_SHARE))
        for index in ranked[1:]:
            picker.add(index, limit=int(max_bytes * DECISIVE_SHARE))
    picker.add(0)
    for index in range(len(lines) - 1, -1, -1):
        if not picker.add(index):
            break
    for index in ranked:
        picker.add(index)
    rendered = picker.render()
    if not picker.selected:  # not even one line fits: cut the most telling one
        rendered = _shorten(lines[ranked[0]], max_bytes) if ranked else _head(lines[-1], max_bytes)
    return _cut(rendered, max_bytes)


class _Picker:
    """A growing set of line indices whose rendering (with `…` gaps) stays within budget."""

    def __init__(self, lines: list[str], budget: int) -> None:
        self.lines = lines
        self.budget = budget
        self.sizes = [_size(line) + 1 for line in lines]  # +1: newline
        self.selected: list[int] = []
        self.line_bytes = 0
        self.markers = 1  # with nothing chosen, everything is one gap

    def __contains__(self, index: int) -> bool:
        pos = bisect_left(self.selected, index)
        return pos < len(self.selected) and self.selected[pos] == index

    def add(self, index: int, limit: int | None = None) -> bool:
        """Choose line `index` if the result stays within `limit` (default: the budget)."""
        if index in self:
            return True
        pos = bisect_left(self.selected, index)
        before = self.selected[pos - 1] if pos else -1
        after = self.selected[pos] if pos < len(self.selected) else len(self.lines)
        markers = self.markers - (after - before > 1) + (index - before > 1) + (after - index > 1)
        line_bytes = self.line_bytes + self.sizes[index]
        if self._cost(line_bytes, markers) > min(limit or self.budget, self.budget):
            return False
        self.selected.insert(pos, index)
        self.line_bytes, self.markers = line_bytes, markers
        return True

    def _cost(self, line_bytes: int, markers: int) -> int:
        return line_bytes + markers * (_size(MARKER) + 1) - 1  # no newline after the last

    def render(self) -> str:
        out: list[str] = []
        previous = -1
        for index in self.selected:
            if index - previous > 1:
                out.append(MARKER)
            out.append(self.lines[index])
            previous = index
        if self.selected and previous < len(self.lines) - 1:
            out.append(MARKER)
        return "\n".join(out)


def _decisive(lines: list[str]) -> list[int]:
    """Indices of decisive lines, most decisive first, earlier first within a priority.

    After the test-output patterns come the lines the build-log scanner ranks (a failed
    ci-operator step, a quota, a lease: what step texts and build-log findings hold), by
    the scanner's score, a failed step's "where" below any "why".
    A text repeated further down (the same error logged on every retry) is taken once.
    """
    ranked: list[tuple[int, int, int]] = []
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line in seen:
            continue
        priority = next((p for p, pattern in enumerate(_DECISIVE) if pattern.search(line)), None)
        if priority is not None:
            ranked.append((priority, 0, index))
            seen.add(line)
            continue
        scored = line_score(line)
        if scored is not None:
            rank = scored[0] - (100 if scored[1] == "step-failed" else 0)
            ranked.append((len(_DECISIVE), -rank, index))
            seen.add(line)
    return [index for *_, index in sorted(ranked)]


def _as_text(text: Any) -> str:
    """Any input as valid text: bytes decoded with replacement, lone surrogates replaced."""
    if isinstance(text, bytes | bytearray | memoryview):
        return bytes(text).decode("utf-8", "replace")
    if not isinstance(text, str):
        return ""
    return text.encode("utf-8", "replace").decode("utf-8")


def _clean_lines(text: str) -> list[str]:
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _CONTROL.sub("", raw).rstrip()
        if line.strip() and (not lines or line != lines[-1]):  # runs of a repeated line
            lines.append(line)
    return lines


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` within `max_bytes` of UTF-8, never half a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[: max(max_bytes, 0)].decode("utf-8", "ignore")


def _shorten(line: str, max_bytes: int) -> str:
    """A decisive `line` within `max_bytes`: its head, telling part and tail, `…` where cut."""
    return excerpt_line(line, max_bytes)


def _head(line: str, max_bytes: int) -> str:
    """Any other `line` cut to `max_bytes` with a trailing `…` when it had to be cut."""
    if _size(line) <= max_bytes:
        return line
    room = max_bytes - _size(MARKER)
    return _cut(line, room) + MARKER if room > 0 else _cut(line, max_bytes)
