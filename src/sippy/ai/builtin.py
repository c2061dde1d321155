"""The built-in summarizer: a useful 1-3 sentence answer from the evidence, with no model.

It answers what a CI watcher asks first: which stage broke and the line that says why.
It states only what the summary data holds; the category is the same small set the model
path reports.
"""

from __future__ import annotations

import re
from typing import Any

from sippy.evidence.buildlog import (
    WRAPPER_SCORE,
    excerpt_line,
    finding_line,
    most_telling_line,
)

CATEGORIES = {
    "S": "success",
    "F": "test failure",
    "I": "install",
    "U": "upgrade",
    "N": "infrastructure",
    "n": "infrastructure",
    "A": "aborted",
    "R": "running",
}
MAX_NAMES = 2
QUOTE_BYTES = 240  # of the line quoted: a sentence, not a log dump
_DECISIVE = re.compile(
    r"fail \[[^\]]+\]:|panic:|level=(?:error|fatal)|\berror:|\bError:|timed out|"
    r"deadline exceeded|quota|failed to acquire lease",
)


def category_for(result: str) -> str:
    return CATEGORIES.get(result, "unknown")


def builtin_summary(summary: dict[str, Any]) -> str:
    """1-3 sentences for one run's summary dict (the `/api/job/run/summary` object)."""
    name = summary["name"]
    result = summary["overallResult"]
    if result == "S":
        return _success(name, summary)
    if result == "A":
        return f'The CI job "{name}" was aborted before it finished.'
    if result == "R":
        return f'The CI job "{name}" is still running; it has no result yet.'
    return " ".join(s for s in (_headline(name, summary), _why(summary), _cluster(summary)) if s)


def _success(name: str, summary: dict[str, Any]) -> str:
    flakes = summary.get("testFlakeCount", 0)
    text = f'The CI job "{name}" succeeded: {summary["testCount"]} tests passed'
    return text + (f", {flakes} of them only after a retry (flakes)." if flakes else ".")


def _headline(name: str, summary: dict[str, Any]) -> str:
    failures = list(summary["testFailures"])
    stage = {
        "I": "during installation",
        "N": "during installation, before the cluster came up",
        "U": "during the upgrade",
        "n": "because of a CI infrastructure problem",
        "F": "because tests failed",
    }.get(summary["overallResult"], "")
    text = f'The CI job "{name}" failed {stage}'.rstrip()
    if failures:
        shown = ", ".join(f'"{_short(t)}"' for t in failures[:MAX_NAMES])
        more = len(failures) - MAX_NAMES
        text += f" ({len(failures)} failed test{'s' if len(failures) > 1 else ''}: {shown}"
        text += f" and {more} more)" if more > 0 else ")"
    return text + "."


def _why(summary: dict[str, Any]) -> str:
    """The line that says why: when tests decided the result, the first failure's decisive
    line; otherwise the most telling line of the failed steps and the build log (a cause
    such as a quota or `level=error` before a bare "step X failed")."""
    if summary["overallResult"] in ("F", "U"):
        for text in summary["testFailures"].values():
            line = _decisive_line(text)
            if line:
                return f"The failure output says: {_sentence(line)}"
    best = _best_log_line(summary)
    if best:
        return best
    for text in summary["testFailures"].values():
        line = _decisive_line(text) or next(
            (ln.strip() for ln in text.splitlines() if ln.strip()), ""
        )
        if line:
            return f"The failure output says: {_sentence(_cap(line))}"
    return ""


def _best_log_line(summary: dict[str, Any]) -> str:
    # A JUnit failure of a suite Sippy does not count (e.g. `hypershift install`) was written
    # to say why; it goes first, so it wins ties with the step log that merely failed after it.
    sources = [
        (f'"{_short(other["name"])}" failed with', other.get("text", ""))
        for other in summary.get("otherJUnitFailures") or []
    ]
    sources += [
        (f"Step {step['name']} failed with", step.get("text", ""))
        for step in summary.get("failedSteps") or []
    ]
    sources += [  # a line the job's passing runs log too did not fail this one
        (
            "The build log says",
            finding_line(finding.get("text", ""), finding.get("score"), finding.get("kind")),
        )
        for finding in summary.get("logSnippets") or []
        if not finding.get("alsoInPassingRuns")
    ]
    best = most_telling_line((text for _, text in sources), min_score=WRAPPER_SCORE + 1)
    if best is None:
        return _exit_status(summary)
    index, line = best
    return f"{sources[index][0]}: {_sentence(_cap(line))}"


def _exit_status(summary: dict[str, Any]) -> str:
    """When a step's log ends in nothing but the entrypoint's "wrapped process failed: exit
    status N", say that plainly instead of quoting the wrapper's JSON."""
    for step in summary.get("failedSteps") or []:
        status = _EXIT_STATUS.search(step.get("text", ""))
        if status:
            return (
                f"Step {step['name']} exited with status {status[1]}; the artifacts read "
                "show no error line before it."
            )
    return ""


_EXIT_STATUS = re.compile(r"wrapped process failed: exit status (\d+)")


def _cluster(summary: dict[str, Any]) -> str:
    parts = []
    operators = summary.get("clusterOperators") or []
    if operators:
        names = sorted({f"{o['name']} ({_condition(o)})" for o in operators})
        parts.append("operators " + ", ".join(names[:4]) + (" and more" if len(names) > 4 else ""))
    nodes = summary.get("nodes") or []
    if nodes:
        parts.append("nodes " + ", ".join(sorted({_node(n) for n in nodes})[:3]))
    machines = summary.get("machines") or []
    if machines:
        parts.append(
            "machines "
            + ", ".join(
                sorted({f"{x['name']} ({x['errorReason'] or x['phase']})" for x in machines})[:3]
            )
        )
    return f"Cluster state at the end: {'; '.join(parts)}." if parts else ""


def _condition(operator: dict[str, Any]) -> str:
    if operator["condition"] == "Available":
        return "unavailable"
    return operator["condition"].lower()


def _node(node: dict[str, Any]) -> str:
    state = "NotReady" if node["condition"] == "Ready" else node["condition"]
    return f"{node['name']} {state}"


def _decisive_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if _DECISIVE.search(ln)), "")
    return _cap(line)


_DIGEST = re.compile(r"(sha256:[0-9a-f]{12})[0-9a-f]{52}")
_LOGRUS_TIME = re.compile(r'time="[^"\n]{0,64}"\s+(?=level=)')


def _cap(line: str, limit: int = QUOTE_BYTES) -> str:
    """Drop a logrus timestamp and shorten image digests (they say nothing to a reader),
    then cap the length: a long line keeps its head, the part that names the cause and its
    end (Go error chains end with the cause), not only its first `limit` bytes."""
    line = _DIGEST.sub(r"\1…", _LOGRUS_TIME.sub("", line, count=1))
    return excerpt_line(line, limit)


def _sentence(line: str) -> str:
    line = line.rstrip(" :")
    return line if line.endswith((".", "!", "?", "…")) else line + "."


def _short(test_name: str) -> str:
    """Drop suite tags like [Suite:openshift/conformance/parallel] that add only length."""
    short = re.sub(r"\s*\[Suite:[^\]]*\]", "", test_name).strip()
    return short if len(short) <= 120 else short[:119] + "…"
