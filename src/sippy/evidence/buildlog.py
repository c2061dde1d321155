"""Find the lines that explain a failure in a build log of any size, streaming.

A ci-operator `build-log.txt` can run to tens of megabytes; the cause of an install or
infrastructure failure (a failed step, `level=error`, a quota, a lease) may sit anywhere in
it, and when no JUnit was written it is the only evidence. The log is read in chunks; only
lines holding a cheap literal (`rror`, `fail`, `quota`, ...) are matched against the
patterns, so most bytes are touched only by C-speed `bytes.find`. State is bounded (a cap
on distinct findings, a few context lines), so memory does not grow with the log. Lines
that differ only in timestamps, names or numbers fold into one finding with a count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sippy.evidence.normalize import normalize_line

CHUNK_BYTES = 1 << 20
MAX_KEYS = 2000  # distinct findings kept while scanning
CONTEXT_LINE_BYTES = 200
FINDING_BYTES = 1024

# (kind, score, pattern). The patterns are POSIX ERE as well as Python regexes, so the
# benchmark can hand the same list to `grep -E`.
PATTERNS: tuple[tuple[str, int, str], ...] = (
    ("step-failed", 100, r"could not run steps"),
    ("step-failed", 98, r"Step [^ ]+ failed after"),
    ("step-failed", 96, r"pod \"[^\"]+\" failed"),
    ("infrastructure", 95, r"LimitExceeded|InsufficientInstanceCapacity|[Qq]uota exceeded"),
    ("infrastructure", 94, r"QuotaExceeded|exceeded quota|[Rr]ate ?[Ll]imit[a-z]* exceeded"),
    ("lease", 94, r"failed to acquire lease|[Ll]ease[a-z ]*(timed out|expired)"),
    ("suite-error", 90, r"Suite run returned error|[0-9]+ fail, [0-9]+ pass"),
    ("panic", 88, r"panic: |fatal error: "),
    ("test-failed", 86, r"fail \[[^]]+\]: |\[FAILED\]|--- FAIL: "),
    ("level-error", 84, r"level=(error|fatal)"),
    ("install", 82, r"[Ii]nstall(ation)? failed|[Ff]ailed to (create|install|bootstrap)"),
    ("timeout", 70, r"timed out waiting|context deadline exceeded|i/o timeout"),
    ("step-failed", 60, r"[Ss]ome steps failed"),  # a header: the cause is on the next lines
    ("error", 50, r"[Ee]rror: |ERROR[]: ]|[Ee]rror [a-z]+ing "),
    ("failed", 40, r"[Ff]ailed to |FAILED"),
)
GREP_PATTERNS: tuple[str, ...] = tuple(p for _, _, p in PATTERNS)
# Every pattern contains one of these (in lower case): lines without any are never matched.
LITERALS: tuple[bytes, ...] = (
    b"rror",
    b"fail",
    b"xceeded",
    b"insufficientinstancecapacity",
    b"xpired",
    b"anic: ",
    b"not run steps",
    b"timed out",
    b"i/o timeout",
    b"level=fatal",
)
# Matches that say nothing about a cause: counters of zero, flags, generic wrappers.
GENERIC = frozenset({"error", "failed", "timeout"})
NOISE: tuple[tuple[re.Pattern[str], int, bool], ...] = (  # (pattern, delta, generic only)
    (re.compile(r"\b0 (?:errors|failures|failed)\b|errors?=0\b|--[a-z-]*error"), -1000, True),
    (re.compile(r"failed to execute wrapped command|wrapped process failed"), -30, False),
    (re.compile(r'"component":"entrypoint"|Container test exited with code'), -25, False),
    (re.compile(r"Ginkgo exit error|exit status 1$"), -20, False),
    (re.compile(r"level=(?:info|debug)|\bINFO\[|\bI\d{4} "), -15, True),
)
_COMPILED = tuple((kind, score, re.compile(p)) for kind, score, p in PATTERNS)
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class LogFinding:
    line: int  # 1-based number of the first matching line
    text: str  # that line with a little context; UTF-8 safe, bounded
    kind: str
    score: int
    count: int  # lines in the log that normalise to the same key


@dataclass(slots=True)
class _Found:
    line: int
    kind: str
    score: int
    before: list[str]
    text: str
    after: list[str]
    missing_after: int
    count: int = 1

    def finding(self) -> LogFinding:
        parts = [*self.before, self.text, *(line for line in self.after if line.strip())]
        return LogFinding(
            self.line, _cap("\n".join(parts), FINDING_BYTES), self.kind, self.score, self.count
        )


def scan_build_log(
    source: BinaryIO | Iterable[bytes],
    *,
    max_findings: int = 20,
    context: int = 1,
    max_line_bytes: int = 2048,
) -> list[LogFinding]:
    """The most decisive lines of a log, best first (score, then earliest); never raises
    on content. `source` is a binary file or an iterable of byte chunks."""
    scanner = _Scanner(context, max_line_bytes)
    for chunk in _chunks(source):
        scanner.feed(chunk)
    scanner.finish()
    ranked = sorted(scanner.found.values(), key=lambda f: (-f.score, f.line))
    return [f.finding() for f in ranked[:max_findings]]


def _chunks(source: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    if read is None:
        for chunk in source:  # type: ignore[union-attr]
            if chunk:
                yield bytes(chunk)
        return
    while chunk := read(CHUNK_BYTES):
        yield chunk


def line_score(text: str) -> tuple[int, str] | None:
    """(score, kind) of one line by the scanner's rules, or None when it says nothing."""
    best = next(((s, k) for k, s, pattern in _COMPILED if pattern.search(text)), None)
    if best is None:  # PATTERNS are in score order: the first match is the best
        return None
    generic = best[1] in GENERIC
    score = best[0] + sum(
        delta for noise, delta, only in NOISE if (generic or not only) and noise.search(text)
    )
    return (score, best[1]) if score > 0 else None


class _Scanner:
    def __init__(self, context: int, max_line_bytes: int) -> None:
        self.context = max(context, 0)
        self.max_line = max(max_line_bytes, 16)
        self.found: dict[str, _Found] = {}
        self.pending: list[_Found] = []  # findings still waiting for after-context
        self.tail: list[bytes] = []  # the last complete lines, for before-context
        self.carry = b""  # an incomplete last line
        self.line_no = 0  # lines completed so far
        self.long_line = False  # inside a line longer than max_line: rest is skipped

    def feed(self, chunk: bytes) -> None:
        if self.long_line:
            newline = chunk.find(b"\n")
            if newline < 0:
                return
            self.long_line = False
            self._complete_line(self.carry)
            self.carry, chunk = b"", chunk[newline + 1 :]
        data = self.carry + chunk if self.carry else chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._hold(data)
            return
        self._scan(data, end + 1)
        self._hold(data[end + 1 :])

    def finish(self) -> None:
        if self.carry:
            self._scan(self.carry + b"\n", len(self.carry) + 1)
            self.carry = b""

    def _hold(self, rest: bytes) -> None:
        """Keep an incomplete line, but never more than max_line bytes of it."""
        if len(rest) > self.max_line:
            rest, self.long_line = rest[: self.max_line], True
        self.carry = rest

    def _complete_line(self, head: bytes) -> None:
        """A line longer than max_line ended: scan its head as a line of its own."""
        self._scan(head + b"\n", len(head) + 1)

    def _scan(self, data: bytes, end: int) -> None:
        """Scan the complete lines in data[:end] (end is just past a newline)."""
        if self.pending:
            self._give_pending(data, end)
        position, line_no = 0, self.line_no
        for start in self._candidate_starts(data, end):
            line_no += data.count(b"\n", position, start)
            self._match(data, start, data.find(b"\n", start, end), end, line_no + 1)
            position = start
        self.line_no = line_no + data.count(b"\n", position, end)
        self._remember_tail(data, end)

    def _candidate_starts(self, data: bytes, end: int) -> list[int]:
        lowered = data[:end].lower()  # ASCII only: positions stay the same
        starts: set[int] = set()
        for literal in LITERALS:
            index = lowered.find(literal)
            while index >= 0:
                starts.add(lowered.rfind(b"\n", 0, index) + 1)
                stop = lowered.find(b"\n", index)
                index = lowered.find(literal, stop + 1) if stop >= 0 else -1
        return sorted(starts)

    def _match(self, data: bytes, start: int, stop: int, end: int, line_no: int) -> None:
        text = _decode(data[start : min(stop, start + self.max_line)])
        scored = line_score(text)
        if scored is None:
            return
        score, kind = scored
        key = normalize_line(text)
        existing = self.found.get(key)
        if existing is not None:
            existing.count += 1
            return
        after = self._lines(data, stop + 1, end, self.context)
        found = _Found(
            line=line_no,
            kind=kind,
            score=score,
            before=self._before(data, start),
            text=_cap(text, self.max_line),
            after=after,
            missing_after=self.context - len(after),
        )
        self.found[key] = found
        if found.missing_after:
            self.pending.append(found)
        if len(self.found) > MAX_KEYS * 5 // 4:
            self._prune()

    def _lines(self, data: bytes, position: int, end: int, count: int) -> list[str]:
        """Up to `count` lines starting at data[position], within data[:end]."""
        lines: list[str] = []
        while len(lines) < count and position < end:
            stop = data.find(b"\n", position, end)
            if stop < 0:
                break
            lines.append(
                _cap(
                    _decode(data[position : min(stop, position + self.max_line)]),
                    CONTEXT_LINE_BYTES,
                )
            )
            position = stop + 1
        return lines

    def _give_pending(self, data: bytes, end: int) -> None:
        """Findings at the end of the previous piece get their after-context here."""
        lines = self._lines(data, 0, end, max(f.missing_after for f in self.pending))
        for found in self.pending:
            given = lines[: found.missing_after]
            found.after.extend(given)
            found.missing_after -= len(given)
        self.pending = [f for f in self.pending if f.missing_after]

    def _before(self, data: bytes, start: int) -> list[str]:
        lines: list[str] = []
        position = start
        while len(lines) < self.context and position > 0:
            previous = data.rfind(b"\n", 0, position - 1) + 1
            lines.append(
                _cap(_decode(data[previous : position - 1][: self.max_line]), CONTEXT_LINE_BYTES)
            )
            position = previous
        if len(lines) < self.context and position == 0:
            for raw in reversed(self.tail[-(self.context - len(lines)) :]):
                lines.append(_cap(_decode(raw), CONTEXT_LINE_BYTES))
        return [line for line in reversed(lines) if line.strip()]

    def _remember_tail(self, data: bytes, end: int) -> None:
        """The last `context` complete lines so far, for the next piece's before-context."""
        lines: list[bytes] = []
        position = end - 1
        while len(lines) < self.context and position >= 0:
            previous = data.rfind(b"\n", 0, position) + 1
            lines.append(data[previous:position][: self.max_line])
            position = previous - 1
        if self.context:
            self.tail = (self.tail + list(reversed(lines)))[-self.context :]

    def _prune(self) -> None:
        ranked = sorted(self.found.items(), key=lambda item: (-item[1].score, item[1].line))
        self.found = dict(ranked[:MAX_KEYS])
        kept = {id(f) for f in self.found.values()}
        self.pending = [f for f in self.pending if id(f) in kept]


def _decode(raw: bytes) -> str:
    text = _ANSI.sub(b"", raw).decode("utf-8", "replace")
    return _CONTROL.sub("", text).rstrip()


def _cap(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[: max_bytes - 3].decode("utf-8", "ignore") + "…"
