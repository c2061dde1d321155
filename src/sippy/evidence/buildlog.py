"""Find the lines that explain a failure in a build log of any size, streaming.

A ci-operator `build-log.txt` runs to tens of megabytes, and the cause of an install or
infrastructure failure (the failed step, `level=error`, a quota, a lease) may sit anywhere in
it; when no JUnit was written it is the only evidence. Reading it must stay fast and small:

* Speed. CPython's `re` is slow on an alternation of many patterns (about 6 MB/s here), but
  `bytes.find` on a literal runs at gigabytes a second. So each chunk is lower-cased once and
  searched for a handful of literals (`PREFILTER`: every pattern contains one); only the lines
  holding one are decoded and matched against `PATTERNS`, each gated by its own literal.
* Memory. The log is read in 1 MiB chunks; an over-long line keeps its head and its tail
  within `max_line_bytes` (a Go error chain ends with its cause); the before-context is a
  ring of a few lines; distinct findings are capped (the weakest half is dropped when full).
  Nothing grows with the log.
* Signal. Copies of one message that differ only in timestamps, names or numbers fold into one
  finding with a count (`normalize_line`). Wrappers that only say "exit status 1", echoes in
  INFO lines, zero counters and flags are ranked down or ignored: the failed step and its
  reason are what a CI engineer looks for.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sippy.evidence.excerpt import compact_identifiers, drop_segments, shorten_line
from sippy.evidence.normalize import LineNormalizer, split_timestamp

CHUNK_BYTES = 1 << 20
MAX_KEYS = 1024  # distinct findings kept while scanning; when full, the weakest half goes
FINDING_BYTES = 1024  # a finding's text: the matched line plus context
LINE_BYTES = 768  # the matched line's share of that
CONTEXT_LINE_BYTES = 240
PRECUT_FACTOR = 4  # a line longer than this many budgets is first cut to that many
MEMO_CHARS = 1 << 18  # lines whose classification is remembered (repeats cost a lookup)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One kind of decisive line. `regex` is POSIX ERE and Python `re` alike, so the same
    list can be handed to `grep -E`; `literal` (lower case) is in every line it matches."""

    kind: str
    score: int
    regex: str
    literal: str


KINDS: tuple[str, ...] = (
    "step-failed",
    "lease",
    "quota",
    "suite-error",
    "panic",
    "test-failed",
    "level-error",
    "timeout",
    "error",
)
# In score order: a line's kind and score come from the first pattern that matches it. A
# pattern's `literal` also gates it, so a long literal saves a regex search per line.
PATTERNS: tuple[Pattern, ...] = (
    Pattern("step-failed", 100, r"could not run steps", "run steps"),
    Pattern("step-failed", 97, r"Step [^ ]+ failed after", "failed after"),
    Pattern("lease", 94, r"[Ff]ailed to acquire lease", "failed to acquire lease"),
    Pattern(
        "quota",
        93,
        r"[Qq]uota[^ ]* exceeded|[Qq]uota '[^']*' exceeded|QuotaExceeded|exceeded quota"
        r"|LimitExceeded|[Rr]ate exceeded|[Rr]ate ?[Ll]imit[a-z]* exceeded",
        "xceeded",
    ),
    Pattern(
        "quota",
        93,
        r"Insufficient[A-Za-z]*Capacity|InsufficientResources|InsufficientFreeAddresses",
        "insufficient",
    ),
    Pattern("quota", 92, r"exceeding( approved)? [^ ]+ [A-Za-z ]*[Qq]uota", "exceeding"),
    Pattern("suite-error", 90, r"Suite run returned error", "suite run returned error"),
    Pattern("suite-error", 89, r"[1-9][0-9]* (blocking )?fail, [0-9]+ ", " fail, "),
    Pattern("suite-error", 89, r"DONE [0-9]+ tests.* [1-9][0-9]* failures?", "failure"),
    Pattern("panic", 88, r"panic: ", "panic: "),
    Pattern("panic", 88, r"fatal error: ", "fatal error: "),
    Pattern("suite-error", 87, r"[Bb]locking test failures:", "blocking test failures:"),
    Pattern("suite-error", 87, r"[Ff]ailing tests:", "failing tests:"),
    Pattern("level-error", 86, r"level=fatal", "level=fatal"),
    Pattern("level-error", 86, r"FATA\[", "fata["),
    Pattern("test-failed", 86, r"fail \[[^]]+\]: ", "fail ["),
    Pattern("test-failed", 86, r"\[FAILED\]|\[Fail\] ", "[fail"),
    Pattern("test-failed", 85, r"--- FAIL: |=== FAIL: ", " fail: "),
    Pattern("test-failed", 85, r"^FAIL($|[^A-Za-z])", "fail"),
    Pattern("test-failed", 85, r"^failed: \(", "failed: ("),
    # pytest's short summary: `FAILED tests/test_x.py::TestY::test_z - TimeoutExpired: ...`
    Pattern("test-failed", 85, r"FAILED\S* \S*::\S", "failed"),
    Pattern("level-error", 84, r"level=error", "level=error"),
    Pattern("test-failed", 84, r"Test Failed!", "test failed!"),
    Pattern("step-failed", 80, r'pod "[^"]+" failed', '" failed'),
    Pattern("error", 72, r"[Ii]nstall failed", "install failed"),
    Pattern("error", 72, r"[Ii]nstallation failed", "installation failed"),
    Pattern("error", 72, r"[Ff]ailed to (install|bootstrap|provision)", "failed to "),
    Pattern("timeout", 72, r"did not finish before [^ ]+ timeout", "timeout"),
    Pattern("lease", 70, r"[Ff]ailed to release( leaked)? leases?", "failed to release"),
    Pattern("timeout", 70, r"[Tt]imed out", "timed out"),
    Pattern("timeout", 70, r"deadline exceeded", "deadline exceeded"),
    Pattern("timeout", 68, r"i/o timeout", "i/o timeout"),
    Pattern("timeout", 68, r"[Tt]imeout waiting", "timeout waiting"),
    Pattern("timeout", 68, r"TLS handshake timeout", "handshake timeout"),
    Pattern("error", 58, r"\*\*\* .*Error [0-9]+", "error "),
    Pattern("error", 55, r"Error from server", "error from server"),
    Pattern("error", 50, r"[Ee]rror: ", "error: "),
    Pattern("error", 50, r"ERROR[]: (]", "error"),
    Pattern("error", 50, r"[Ee]rror [a-z]+ing ", "error "),
    Pattern("step-failed", 49, r"[Ss]ome steps failed", "steps failed"),
    Pattern("level-error", 48, r"ERRO\[", "erro["),
    Pattern("step-failed", 42, r"Reporting job state 'failed'", "job state 'failed'"),
    Pattern("error", 40, r"[Ff]ailed to ", "failed to "),
    Pattern("error", 40, r"FAILED|[Ff]ailed: ", "failed"),
)
GREP_PATTERNS: tuple[str, ...] = tuple(p.regex for p in PATTERNS)
# Searched in each lower-cased chunk; every pattern's literal contains one of these.
PREFILTER: tuple[bytes, ...] = (
    b"erro",
    b"fail",
    b"xceed",
    b"insufficient",
    b"panic",
    b"fata",
    b"timed out",
    b"timeout",
    b"run steps",
)
# A failed step's line may also say why (a lease, a quota); that reason is the better kind.
_REASON_KINDS = frozenset({"lease", "quota", "panic", "timeout"})
_RULES = tuple((p, re.compile(p.regex)) for p in PATTERNS)
_REASONS = tuple(rule for rule in _RULES if rule[0].kind in _REASON_KINDS)
_GENERIC = tuple(rule for rule in _RULES if rule[0].kind == "error")

# Lines are classified in the form `split_timestamp` gives them, a leading timestamp replaced
# by a placeholder (`INFO[<ts>] ...`, `W<ts> ...`): so results can be memoised.
_QUIET_HEADS = ("INFO[", "DEBU[", "DEBUG[", "TRAC[", "TRACE[", "I<ts>")
_QUIET_LEVELS = ("level=info", "level=debug", "level=trace", '"level":"info"', '"level":"debug"')
_EMPTY = re.compile(r"(?:ERRO|FATA)\[<ts>\]\s*$")  # the blank line after "Some steps failed"
# Steps that fail because an earlier one did: gathering from a cluster that never came up.
_AFTERMATH = re.compile(r'(?:Step |pod ")[^ "]*-(?:gather|observers|deprovision)-')
# Wrappers that only say a command exited non-zero: the cause is elsewhere.
WRAPPER_SCORE = 10
_WRAPPER = re.compile(
    r"failed to execute wrapped command|wrapped process failed|Error executing test process"
    r"|Ginkgo exit error|exit with code \d+\s*$"
)
# Retried, tolerated or only warned about.
_SOFT = re.compile(
    r"non-fatal|[Ww]ill retry|[Rr]etrying|[Ii]gnoring|\bWARNING\b|level=warn|\"level\":\"warn"
)
_SOFT_HEADS = ("W<ts>", "WARN[", "WARNING[")
_QUIET_KINDS = frozenset({"timeout", "quota", "lease"})  # worth less when logged as INFO
# Spans that contain "error" or "fail" without reporting one: flags, paths, zero counters.
_ECHOES = re.compile(
    r"-(?<!\S-)-?[A-Za-z][\w-]*(?:=\S*)?|/(?<!\S/)\S*|[^\s/](?<!\S[^\s/])[^\s/]*/\S*"
    r"|(?i:(?<![\d.])0 (?:errors?|failures?|failed)\b|\b(?:errors?|failures?|failed)[=:] ?0\b)"
)
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = bytes([*range(0, 9), *range(10, 32), 127])  # deleted; tab stays
_MARKER = "…".encode()


Span = tuple[int, int]  # (start, end) in a line


@dataclass(frozen=True, slots=True)
class LogFinding:
    """One decisive line of a build log, with the copies of it that were folded in."""

    line: int  # 1-based number of the first matching line in the log
    text: str  # that line with a little context, joined by "\n"; UTF-8 safe, bounded
    kind: str  # one of KINDS
    score: int  # higher = more decisive; used to rank
    count: int  # lines in the log that normalise to the same key (folded into this one)


def scan_build_log(
    source: BinaryIO | Iterable[bytes],
    *,
    max_findings: int = 20,
    context: int = 2,
    max_line_bytes: int = 2048,
) -> list[LogFinding]:
    """The most decisive lines of a log, best first (score, then earliest line).

    `source` is a binary file (read in 1 MiB chunks) or an iterable of byte chunks. Any bytes
    are accepted: invalid UTF-8 is replaced, ANSI colours and control characters removed.
    Of a line longer than `max_line_bytes` (at least 64) only its head and its last
    `max_line_bytes // 2` bytes are looked at, joined by "…"; `context` lines before and
    after each finding come with it, blank ones left out.
    """
    scanner = _Scanner(context, max_line_bytes)
    for chunk in _chunks(source):
        scanner.feed(chunk)
    scanner.finish()
    ranked = sorted(scanner.found.values(), key=lambda f: (-f.score, f.line))
    return [f.finding() for f in ranked[: max(max_findings, 0)]]


def line_score(text: str) -> tuple[int, str] | None:
    """(score, kind) of one line by the scanner's rules, or None when it says nothing."""
    head, body = split_timestamp(text)
    return _classify(head + body.rstrip())


def most_telling_line(texts: Iterable[str], *, min_score: int = 1) -> tuple[int, str] | None:
    """(index of the text, line) of the line that best says why, or None.

    A failed-step line says where, not why, so any other cause outranks it; among equals
    the first wins. Lines scoring under `min_score` (wrappers such as "exit status 1") are
    never chosen.
    """
    best: tuple[int, int, str] | None = None
    for index, text in enumerate(texts):
        for line in text.splitlines():
            scored = line_score(line)
            if not scored or scored[0] < min_score:
                continue
            rank = scored[0] - (100 if scored[1] == "step-failed" else 0)
            if best is None or rank > best[0]:
                best = (rank, index, line.strip())
    return (best[1], best[2]) if best else None


def finding_line(text: str, score: int | None = None, kind: str | None = None) -> str:
    """A stored finding's own line: the one of its text (which carries context lines, maybe
    another finding's line among them) that the rules give the finding's score and kind;
    without those, its most telling line, else its first line."""
    lines = text.splitlines()
    if score is not None:
        own = next((line for line in lines if line_score(line) == (score, kind)), None)
        if own is not None:
            return own
    best = most_telling_line([text])
    return best[1] if best else next((line for line in lines if line.strip()), "")


def telling_spans(line: str) -> list[Span]:
    """(start, end) in `line` of each pattern's first match, the parts that say why, most
    telling first: by score, a failed-step match (it says where) below any other, earlier
    first among equals."""
    lowered = line.lower()
    ranked: list[tuple[int, int, int]] = []
    for pattern, regex in _RULES:
        if pattern.literal not in lowered:
            continue
        match = regex.search(line)
        if match is not None:
            rank = pattern.score - (100 if pattern.kind == "step-failed" else 0)
            ranked.append((-rank, match.start(), match.end()))
    return [(start, end) for _, start, end in sorted(ranked)]


def excerpt_line(line: str, max_bytes: int) -> str:
    """`line` within `max_bytes`: whole when it fits; else with long identifiers compacted,
    then links of its error chain left out, then its head, its most telling part past the
    head and its tail (`sippy.evidence.excerpt`); the words that name the cause stay."""
    if len(line.encode()) <= max_bytes:
        return line
    if len(line) > PRECUT_FACTOR * max_bytes:  # bound the work on a huge line first
        line = shorten_line(line, PRECUT_FACTOR * max_bytes, _best_and_anchor(line, max_bytes)[1])
    line = compact_identifiers(line, max_bytes, telling_spans(line))
    best, anchor = _best_and_anchor(line, max_bytes)
    line = drop_segments(line, max_bytes, [span for span in (best, anchor) if span])
    return shorten_line(line, max_bytes, _best_and_anchor(line, max_bytes)[1])


def _best_and_anchor(line: str, max_bytes: int) -> tuple[Span | None, Span | None]:
    """The most telling span, and the most telling one past the head (which shortening
    keeps anyway): the anchor of the window kept in the middle."""
    spans = telling_spans(line)
    after = max_bytes // 3
    return (spans[0] if spans else None, next((s for s in spans if s[0] >= after), None))


def _classify(line: str) -> tuple[int, str] | None:
    """(score, kind) of a line in `split_timestamp` form, or None."""
    lowered = line.lower()
    best = next((p for p, regex in _RULES if p.literal in lowered and regex.search(line)), None)
    if best is None:
        return None
    score, kind = best.score, best.kind
    if kind == "step-failed":
        why = next(
            (p for p, regex in _REASONS if p.literal in lowered and regex.search(line)), None
        )
        if score < 100 and _AFTERMATH.search(line):
            score -= 20
        return score, why.kind if why else kind
    if kind == "error":
        if line.startswith(_QUIET_HEADS) or any(q in lowered for q in _QUIET_LEVELS):
            return None  # an INFO line that mentions an error
        if not _matches(_GENERIC, _ECHOES.sub(" ", line)):
            return None  # "error" only in a flag, a path or a zero count
    elif kind == "level-error" and _EMPTY.match(line):
        return None
    if _WRAPPER.search(line):
        return WRAPPER_SCORE, kind
    if _SOFT.search(line) or line.startswith(_SOFT_HEADS):
        score -= 25
    if kind in _QUIET_KINDS and (
        line.startswith(_QUIET_HEADS) or any(q in lowered for q in _QUIET_LEVELS)
    ):
        score -= 30
    return (score, kind) if score > 0 else None


def _matches(rules: tuple[tuple[Pattern, re.Pattern[str]], ...], line: str) -> bool:
    lowered = line.lower()
    return any(p.literal in lowered and regex.search(line) for p, regex in rules)


def _chunks(source: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    read = getattr(source, "read", None)
    if read is not None:
        while chunk := read(CHUNK_BYTES):  # b"" (or None from a non-blocking stream): done
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        return
    for chunk in source:
        if chunk:
            yield chunk.encode() if isinstance(chunk, str) else bytes(chunk)


@dataclass(slots=True)
class _Found:
    line: int
    kind: str
    score: int
    text: str
    before: list[str]
    after: list[str]
    missing: int  # after-context lines still to come from the next chunk
    count: int = 1

    def finding(self) -> LogFinding:
        return LogFinding(self.line, self._text(), self.kind, self.score, self.count)

    def _text(self) -> str:
        """The line, then the nearest context lines while they fit in FINDING_BYTES."""
        line = excerpt_line(self.text, LINE_BYTES)
        budget = FINDING_BYTES - len(line.encode())
        before: list[str] = []
        after: list[str] = []
        sides = (
            (after, [t for t in self.after if _says_something(t)]),
            (before, [t for t in reversed(self.before) if _says_something(t)]),
        )
        for index in range(max(len(self.before), len(self.after))):
            for taken, lines in sides:
                if index == len(taken) and index < len(lines):
                    size = len(lines[index].encode()) + 1
                    if size <= budget:
                        taken.append(lines[index])
                        budget -= size
        return "\n".join([*before[::-1], line, *after])


class _Scanner:
    """Consumes chunks; keeps only bounded state (see the module docstring)."""

    def __init__(self, context: int, max_line_bytes: int) -> None:
        self.context = max(context, 0)
        self.max_line = max(max_line_bytes, 64)
        self.tail_keep = self.max_line // 2  # of an over-long line: its last bytes
        self.head_keep = self.max_line - self.tail_keep - len(_MARKER)  # and its first
        self.found: dict[str, _Found] = {}
        self.pending: list[_Found] = []  # findings still owed after-context
        self.tail: deque[bytes] = deque(maxlen=self.context)  # last lines, for before-context
        self.carry = b""  # the incomplete last line (at most max_line bytes of it)
        self.carry_tail = b""  # its last tail_keep bytes
        self.skipping = False  # inside an over-long line whose head is in `carry`
        self.lines = 0  # complete lines so far
        self.normalize = LineNormalizer()
        self.classified: dict[str, tuple[int, str] | None] = {}  # memo, by line (canonical)
        self.classified_chars = 0

    def _classify(self, line: str) -> tuple[int, str] | None:
        if line in self.classified:
            return self.classified[line]
        if self.classified_chars > MEMO_CHARS:
            self.classified.clear()
            self.classified_chars = 0
        self.classified_chars += len(line)
        scored = self.classified[line] = _classify(line)
        return scored

    def feed(self, chunk: bytes) -> None:
        begin = 0
        if self.carry or self.skipping:  # finish the line the last chunk ended in
            newline = chunk.find(b"\n")
            self._carry_on(chunk, 0, len(chunk) if newline < 0 else newline)
            if newline < 0:
                return
            line = self._carried() + b"\n"
            begin = newline + 1
            self._scan(line, 0, len(line))
        end = chunk.rfind(b"\n", begin) + 1
        if end:
            self._scan(chunk, begin, end)
            begin = end
        self._carry_on(chunk, begin, len(chunk))

    def finish(self) -> None:
        if self.carry or self.skipping:
            line = self._carried() + b"\n"
            self._scan(line, 0, len(line))

    def _carry_on(self, chunk: bytes, begin: int, end: int) -> None:
        """Add chunk[begin:end] to the line still open at the end of a chunk."""
        if not self.skipping:
            self.carry += chunk[begin : min(end, begin + self.max_line + 1 - len(self.carry))]
            self.skipping = len(self.carry) > self.max_line
            self.carry = self.carry[: self.max_line]
        piece = chunk[max(begin, end - self.tail_keep) : end]
        self.carry_tail = (self.carry_tail + piece)[-self.tail_keep :]

    def _carried(self) -> bytes:
        """The open line, shaped as `_shape` shapes a whole one; and forget it."""
        line = self.carry
        if self.skipping:
            line = _join(self.carry[: self.head_keep], self.carry_tail)
        self.carry, self.carry_tail, self.skipping = b"", b"", False
        return line

    def _shape(self, data: bytes, start: int, stop: int) -> bytes:
        """data[start:stop], or its head and tail when longer than max_line."""
        if stop - start <= self.max_line:
            return data[start:stop]
        return _join(data[start : start + self.head_keep], data[stop - self.tail_keep : stop])

    def _scan(self, data: bytes, begin: int, end: int) -> None:
        """Scan the complete lines of data[begin:end] (end is just past a newline)."""
        if self.pending:
            self._give_after(data, begin, end)
        lowered = data.lower()  # ASCII only: offsets stay the same
        position, line = begin, self.lines
        for start in _line_starts(lowered, begin, end):
            line += data.count(b"\n", position, start)
            position = start
            self._match(data, begin, start, data.find(b"\n", start, end), end, line + 1)
        self.lines = line + data.count(b"\n", position, end)
        self._remember_tail(data, begin, end)

    def _match(self, data: bytes, begin: int, start: int, stop: int, end: int, line: int) -> None:
        text = _clean(self._shape(data, start, stop))
        head, body = split_timestamp(text)
        scored = self._classify(head + body)
        if scored is None:
            return
        key = self.normalize.key(head, body)
        found = self.found.get(key)
        if found is not None:
            found.count += 1
            return
        after = self._lines_after(data, stop + 1, end, self.context)
        found = _Found(
            line,
            scored[1],
            scored[0],
            text,
            self._lines_before(data, begin, start),
            after,
            self.context - len(after),
        )
        self.found[key] = found
        if found.missing:
            self.pending.append(found)
        if len(self.found) > MAX_KEYS:
            self._prune()

    def _lines_after(self, data: bytes, position: int, end: int, count: int) -> list[str]:
        lines: list[str] = []
        while len(lines) < count and position < end:
            stop = data.find(b"\n", position, end)
            lines.append(self._context_line(self._shape(data, position, stop)))
            position = stop + 1
        return lines

    def _lines_before(self, data: bytes, begin: int, start: int) -> list[str]:
        lines: list[bytes] = []
        while len(lines) < self.context and start > begin:
            previous = max(data.rfind(b"\n", begin, start - 1) + 1, begin)
            lines.append(self._shape(data, previous, start - 1))
            start = previous
        if len(lines) < self.context:
            lines += reversed(list(self.tail)[max(len(self.tail) - self.context + len(lines), 0) :])
        return [self._context_line(raw) for raw in reversed(lines)]

    def _context_line(self, raw: bytes) -> str:
        return excerpt_line(_clean(raw), CONTEXT_LINE_BYTES)

    def _give_after(self, data: bytes, begin: int, end: int) -> None:
        """Findings near the end of the previous chunk get their after-context here."""
        lines = self._lines_after(data, begin, end, max(f.missing for f in self.pending))
        for found in self.pending:
            given = lines[: found.missing]
            found.after += given
            found.missing -= len(given)
        self.pending = [f for f in self.pending if f.missing]

    def _remember_tail(self, data: bytes, begin: int, end: int) -> None:
        lines: list[bytes] = []
        stop = end - 1
        while len(lines) < self.context and stop >= begin:
            start = max(data.rfind(b"\n", begin, stop) + 1, begin)
            lines.append(self._shape(data, start, stop))
            stop = start - 1
        self.tail.extend(reversed(lines))

    def _prune(self) -> None:
        ranked = sorted(self.found.items(), key=lambda item: (-item[1].score, item[1].line))
        self.found = dict(ranked[: MAX_KEYS // 2])
        kept = {id(f) for f in self.found.values()}
        self.pending = [f for f in self.pending if id(f) in kept]


def _says_something(line: str) -> bool:
    """False for blank context lines and bare timestamps (`ERRO[...]` with no message)."""
    return bool(split_timestamp(line)[1].strip())


def _line_starts(lowered: bytes, begin: int, end: int) -> list[int]:
    """Starts of the lines in lowered[begin:end] that hold a PREFILTER literal, in order."""
    starts: set[int] = set()
    for literal in PREFILTER:
        index = lowered.find(literal, begin, end)
        while index >= 0:
            starts.add(max(lowered.rfind(b"\n", begin, index) + 1, begin))
            index = lowered.find(literal, lowered.find(b"\n", index, end) + 1, end)
    return sorted(starts)


def _clean(raw: bytes) -> str:
    """Text of a raw line: no ANSI colours or control characters, invalid UTF-8 replaced."""
    if b"\x1b" in raw:
        raw = _ANSI.sub(b"", raw)
    raw = raw.translate(None, _CONTROL)
    return raw.decode("utf-8", "replace").rstrip()


def _join(head: bytes, tail: bytes) -> bytes:
    """The head and tail of an over-long line, with "…" between and no half characters."""
    skip = 0
    while skip < min(3, len(tail)) and tail[skip] & 0xC0 == 0x80:  # continuation bytes
        skip += 1
    return _trim_partial(head) + _MARKER + tail[skip:]


def _trim_partial(raw: bytes) -> bytes:
    """`raw` without a multi-byte UTF-8 sequence that a length cap cut short."""
    for back in range(1, min(4, len(raw)) + 1):
        byte = raw[-back]
        if byte & 0xC0 != 0x80:  # the last lead (or ASCII) byte
            need = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
            return raw[:-back] if need > back else raw
    return raw
