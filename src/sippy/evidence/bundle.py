"""The evidence a model sees for one run, chosen in priority order within a token budget.

The original sent the last 256 bytes of each failure and the first clusteroperators.json.
Here the evidence is what a senior CI engineer opens first: the run's outcome, the failed
ci-operator steps, each failed test's decisive lines and its recent history, the ranked
build-log findings, the cluster's broken operators, nodes and machines, and the flakes.
Items are taken in priority order while they fit, each at full size or shortened; what is
left out is counted and said. The same summary always gives the same evidence and digest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sippy.evidence.buildlog import line_score
from sippy.evidence.normalize import normalize_line
from sippy.evidence.snippets import failure_snippet
from sippy.evidence.tokens import estimate_tokens

SECTIONS = {
    "run": "Run",
    "steps": "Failed ci-operator steps",
    "failures": "Failed tests",
    "otherjunit": "Other JUnit failures (suites Sippy does not count as tests)",
    "buildlog": "Build log findings",
    "cluster": "Cluster state at the end of the run",
    "flakes": "Flaky tests (failed, then passed on retry)",
}
OMITTED_RESERVE = 40  # tokens kept back for the "not shown" line
MIN_SHRUNK_BYTES = 80
DETAILED_FAILURES = 5
TEST_LED_RESULTS = frozenset({"F", "U"})
MAX_FAILURES = 60
MAX_FLAKES = 30
MAX_FINDINGS = 10
MAX_PASSING_FINDINGS = 3  # findings the job's passing runs log too: a few, last
MAX_TITLE_CHARS = 300
_BLOB_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_-]{40,}")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_DIGEST_PREFIX = re.compile(r"\bsha(?:256|384|512):$")
_FENCE = re.compile(r"<\s*/?\s*evidence\s*>", re.IGNORECASE)
# Chat-template control tokens (ChatML and Llama 3 `<|...|>`, Mistral `[INST]`, `</s>`): some
# model servers parse them inside message text as the real tokens, which would end the turn.
_CONTROL_TOKEN = re.compile(
    r"<\|[A-Za-z0-9_.:-]{1,48}\|>|\[/?(?:INST|SYSTEM_PROMPT|TOOL_CALLS|AVAILABLE_TOOLS|"
    r"TOOL_RESULTS)\]|</?s>",
    re.IGNORECASE,
)
_LOOKALIKE = str.maketrans({"<": "‹", ">": "›", "[": "⟦", "]": "⟧"})


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One fact shown to the model, with where it came from."""

    section: str
    title: str
    text: str = ""
    source: str | None = None
    line: int | None = None

    def render(self) -> str:
        if self.section == "run":
            return self.text
        if not self.text:
            return f"- {self.title}"
        body = "\n".join(f"  {line}" for line in self.text.splitlines())
        return f"- {self.title}\n{body}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Evidence:
    items: tuple[EvidenceItem, ...]
    omitted: dict[str, int]
    text: str
    tokens: int
    digest: str

    def as_list(self) -> list[dict[str, Any]]:
        return [item.as_dict() for item in self.items]


@dataclass(slots=True)
class _Candidate:
    section: str
    title: str
    body: str
    sizes: tuple[int, ...]  # body byte budgets to try, largest first; () = title only
    source: str | None = None
    line: int | None = None
    order: int = 0


@dataclass(slots=True)
class _Selection:
    budget: int
    used: int = 0
    chosen: list[tuple[_Candidate, EvidenceItem]] = field(default_factory=list)
    omitted: dict[str, int] = field(default_factory=dict)
    sections: set[str] = field(default_factory=set)


def build_evidence(summary: dict[str, Any], budget_tokens: int) -> Evidence:
    """The evidence for one run's summary dict, estimated at no more than `budget_tokens`."""
    candidates = list(_candidates(summary))
    for order, candidate in enumerate(candidates):
        candidate.order = order
    selection = _Selection(budget=max(budget_tokens - OMITTED_RESERVE, 0))
    for candidate in candidates:
        _try_add(selection, candidate)
    text = _render(selection, say_omitted=True)
    while estimate_tokens(text) > budget_tokens:  # a backstop: the estimate is additive
        if not selection.chosen:
            text = _render(selection, say_omitted=False)
            break
        candidate, _ = selection.chosen.pop()
        selection.omitted[candidate.section] = selection.omitted.get(candidate.section, 0) + 1
        text = _render(selection, say_omitted=True)
    items = tuple(item for _, item in _in_display_order(selection.chosen))
    return Evidence(
        items=items,
        omitted=dict(sorted(selection.omitted.items())),
        text=text,
        tokens=estimate_tokens(text),
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def _try_add(selection: _Selection, candidate: _Candidate) -> None:
    header = 0 if candidate.section in selection.sections else _header_tokens(candidate.section)
    for size in candidate.sizes or (0,):
        item = _item(candidate, size)
        if item is None:
            continue
        cost = estimate_tokens(item.render()) + 1 + header
        if selection.used + cost <= selection.budget:
            selection.used += cost
            selection.chosen.append((candidate, item))
            selection.sections.add(candidate.section)
            return
    selection.omitted[candidate.section] = selection.omitted.get(candidate.section, 0) + 1


def _item(candidate: _Candidate, size: int) -> EvidenceItem | None:
    text = ""
    if size:
        text = failure_snippet(candidate.body, size)
        if not text:
            return None
    return EvidenceItem(candidate.section, candidate.title, text, candidate.source, candidate.line)


def _header_tokens(section: str) -> int:
    return estimate_tokens(f"\n## {SECTIONS[section]}\n") + 1


def _in_display_order(
    chosen: list[tuple[_Candidate, EvidenceItem]],
) -> list[tuple[_Candidate, EvidenceItem]]:
    rank = {name: i for i, name in enumerate(SECTIONS)}
    return sorted(chosen, key=lambda pair: (rank[pair[0].section], pair[0].order))


def _render(selection: _Selection, *, say_omitted: bool) -> str:
    lines: list[str] = []
    current = None
    for candidate, item in _in_display_order(selection.chosen):
        if candidate.section != current:
            current = candidate.section
            lines.append(f"\n## {SECTIONS[current]}" if lines else f"## {SECTIONS[current]}")
        lines.append(item.render())
    if selection.omitted and say_omitted:
        parts = ", ".join(f"{n} from {SECTIONS[s].lower()}" for s, n in selection.omitted.items())
        lines.append(f"\n(Not shown, for space: {parts}.)")
    return "\n".join(lines)


# Candidates, in priority order -------------------------------------------------------


def _candidates(summary: dict[str, Any]) -> Iterator[_Candidate]:
    """Priority order. When tests decided the result (F, U), they lead: a failed test
    step's log mostly repeats them. Otherwise (install, infrastructure) the failed steps and
    the build log tell the story, and the `install should succeed` tests say little."""
    yield _run_header(summary)
    steps = summary.get("failedSteps") or []
    all_findings = summary.get("logSnippets") or []
    # findings the job's passing runs log too did not fail this run: they come last
    findings = [f for f in all_findings if not f.get("alsoInPassingRuns")]
    in_passing_runs = [f for f in all_findings if f.get("alsoInPassingRuns")]
    other = summary.get("otherJUnitFailures") or []
    failures = list(_failures(summary))
    tests_led = bool(failures) and summary["overallResult"] in TEST_LED_RESULTS
    if tests_led:
        yield from (_step(step, (400, 200, 120)) for step in steps[:1])
        yield from failures[:DETAILED_FAILURES]
        yield from (_finding(finding, (400, 200, 120)) for finding in findings[:2])
        yield from (_step(step, (300, 150)) for step in steps[1:3])
        yield from (_other(failure, (300, 150)) for failure in other[:2])
    else:
        yield from (_step(step, (800, 400, 200)) for step in steps[:1])
        yield from (_other(failure, (500, 250, 120)) for failure in other[:2])
        yield from (_step(step, (800, 400, 200)) for step in steps[1:3])
        yield from (_finding(finding, (500, 250, 120)) for finding in findings[:3])
    yield from _cluster(summary)
    yield from (_step(step, (300, 150)) for step in steps[3:6])
    yield from failures[DETAILED_FAILURES:MAX_FAILURES]
    yield from (_finding(f, (300, 150)) for f in findings[2 if tests_led else 3 : MAX_FINDINGS])
    yield from _flakes(summary)
    yield from (_finding(f, (200, 100)) for f in in_passing_runs[:MAX_PASSING_FINDINGS])


def _step(step: dict[str, Any], sizes: tuple[int, ...]) -> _Candidate:
    title = _title(f"step {step['name']} failed:")
    return _Candidate("steps", title, _clean(step["text"]), sizes, step.get("source"))


def _other(failure: dict[str, Any], sizes: tuple[int, ...]) -> _Candidate:
    title = _title(f"{failure['name']} failed:")
    return _Candidate("otherjunit", title, _clean(failure["text"]), sizes, failure.get("source"))


def _run_header(summary: dict[str, Any]) -> _Candidate:
    lines = [
        f"Job: {summary['name']}",
        f"Run: {summary['id']} | Release: {summary.get('release') or 'unknown'}"
        f" | Result: {summary['overallResult']} ({summary['reason']})"
        f" | Prow state: {summary.get('prowState') or 'unknown'}"
        f" | Duration: {_duration(summary.get('durationSeconds'))}",
        f"Tests: {summary['testCount']} ran, {summary['testFailureCount']} failed,"
        f" {summary.get('testFlakeCount', 0)} flaked",
    ]
    if summary.get("variants"):
        lines.append("Variants: " + ", ".join(summary["variants"]))
    history = summary.get("testHistory") or {}
    if history and not _known_history(summary):
        lines.append("History: no earlier runs of this job are loaded")
    if summary.get("syntheticTestFailures"):
        lines.append("Synthetic checks failed: " + "; ".join(summary["syntheticTestFailures"]))
    text = "\n".join(_clean(line) for line in lines)
    return _Candidate("run", "run", text, (len(text.encode()) + 1, 600, 300))


def _known_history(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-test history, or {} when no earlier run is loaded (said once, in the header)."""
    history = summary.get("testHistory") or {}
    return {k: v for k, v in history.items() if v.get("earlierRuns", 1)}


def _failures(summary: dict[str, Any]) -> Iterator[_Candidate]:
    history = _known_history(summary)
    seen: dict[str, str] = {}
    for index, (name, output) in enumerate(summary["testFailures"].items()):
        record = history.get(name)
        title = f"{name} ({record['summary']})" if record else name
        text = _clean(output)
        key = normalize_line(text)[:2000]
        if key and key in seen:  # the same failure as an earlier test: say so, once
            text, sizes = f"same output as: {seen[key]}", (200,)
        else:
            seen.setdefault(key, name[:120])
            sizes = (500, 250, 120, 0) if index < DETAILED_FAILURES else (250, 120, 0)
        yield _Candidate("failures", _title(title), text, sizes if text else ())


def _finding(finding: dict[str, Any], sizes: tuple[int, ...]) -> _Candidate:
    where = f"{finding.get('source') or 'build-log.txt'} line {finding.get('line')}"
    if finding.get("count", 1) > 1:
        where += f" (seen {finding['count']} times)"
    if finding.get("alsoInPassingRuns"):
        runs = finding["alsoInPassingRuns"]
        where += f" (also logged by {runs} passing run{'s' if runs > 1 else ''} of this job)"
    return _Candidate(
        "buildlog",
        _title(where + ":"),
        _clean(finding["text"]),
        sizes,
        finding.get("source"),
        finding.get("line"),
    )


def _cluster(summary: dict[str, Any]) -> Iterator[_Candidate]:
    for o in summary.get("clusterOperators") or []:
        title = f"operator {o['name']}: {o['condition']}={o['status']}"
        if o.get("reason"):
            title += f" ({o['reason']})"
        yield _Candidate(
            "cluster", _title(title), _clean(o.get("message") or ""), (300, 120), o.get("source")
        )
    for n in summary.get("nodes") or []:
        roles = f" [{', '.join(n['roles'])}]" if n.get("roles") else ""
        title = f"node {n['name']}{roles}: {n['condition']}={n['status']}"
        if n.get("reason"):
            title += f" ({n['reason']})"
        yield _Candidate(
            "cluster", _title(title), _clean(n.get("message") or ""), (200, 100), n.get("source")
        )
    for x in summary.get("machines") or []:
        title = f"machine {x['name']}: phase {x.get('phase') or 'unknown'}"
        if x.get("errorReason"):
            title += f" ({x['errorReason']})"
        yield _Candidate(
            "cluster",
            _title(title),
            _clean(x.get("errorMessage") or ""),
            (200, 100),
            x.get("source"),
        )


def _flakes(summary: dict[str, Any]) -> Iterator[_Candidate]:
    history = _known_history(summary)
    for name in list(summary.get("testFlakes") or {})[:MAX_FLAKES]:
        record = history.get(name)
        title = f"{name} ({record['summary']})" if record else name
        yield _Candidate("flakes", _title(title), "", ())


def defuse_fences(text: str) -> str:
    """Artifact text may not open or close the prompt's `<evidence>` fence, nor carry a
    chat-template control token; either is rewritten with look-alike brackets."""
    text = _FENCE.sub(lambda m: m.group().translate(_LOOKALIKE), text)
    return _CONTROL_TOKEN.sub(lambda m: m.group().translate(_LOOKALIKE), text)


def _clean(text: str) -> str:
    """Shorten blobs (base64, digests) that cost many tokens and tell a reader nothing."""
    return defuse_fences(_BLOB_CANDIDATE.sub(_shorten_blob, text or ""))


def _shorten_blob(match: re.Match[str]) -> str:
    """Base64 mixes digits and both cases; paths and names do not. A content digest
    (`sha256:<hex>`) on a decisive line stays whole: there it names the release or image
    the failure is about (an upgrade's target), and the line arrives as it was written."""
    run = match.group()
    if _HEX.fullmatch(run):
        return run if _decisive_digest(match) else run[:16] + "…"
    is_blob = (
        any(c.isdigit() for c in run)
        and any(c.isupper() for c in run)
        and any(c.islower() for c in run)
        and run.count("/") < len(run) // 16
    )
    return run[:16] + "…" if is_blob else run


def _decisive_digest(match: re.Match[str]) -> bool:
    """Whether the hex run is a `sha256:` (384, 512) digest on a line that says why."""
    text, start = match.string, match.start()
    if not _DIGEST_PREFIX.search(text, max(start - 8, 0), start):
        return False
    end = text.find("\n", match.end())
    line = text[text.rfind("\n", 0, start) + 1 : end if end >= 0 else len(text)]
    return line_score(line) is not None


def _title(text: str) -> str:
    text = _clean(" ".join(text.split()))
    return text if len(text) <= MAX_TITLE_CHARS else text[: MAX_TITLE_CHARS - 1] + "…"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
