"""Debugging one test failure: a short summary and ordered steps, with the exact links.

The links, history and classification come from the data, never from the model; the model
(or, without one, the built-in writer) supplies the summary and the steps.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from string import Template
from typing import Any

from sippy.ai.prompt import Prompt, load_template
from sippy.ai.service import BUILTIN, SummaryService
from sippy.analysis.test_failure import failure_facts
from sippy.evidence.bundle import Evidence, EvidenceItem, defuse_fences
from sippy.evidence.snippets import failure_snippet
from sippy.evidence.tokens import MESSAGE_OVERHEAD, estimate_messages, estimate_tokens

PURPOSE = "test_failure"
ASSESSMENT = {
    "infrastructure": "This looks like an infrastructure problem rather than a product bug.",
    "known flake": "It fails intermittently here: this looks like a known flake.",
    "new regression": "It passed in the earlier runs of this job: this looks like a new "
    "regression.",
    "persistent failure": "It fails in most runs of this job: a persistent failure.",
    "unclear": "There is not enough history to tell a flake from a regression.",
}
OUTPUT_SIZES = (3000, 2000, 1200, 600, 300, 120)
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.*\S)")


async def explain(
    service: SummaryService, run_id: int, test_name: str, *, refresh: bool = False
) -> dict[str, Any]:
    """`{summary, steps, classification, history, links, evidence, model, cached, ...}`."""
    answer, _ = await explain_with_facts(service, run_id, test_name, refresh=refresh)
    return answer


async def explain_with_facts(
    service: SummaryService, run_id: int, test_name: str, *, refresh: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The explanation and the facts it rests on (a bug draft needs both)."""
    facts = await _facts(service, run_id, test_name)
    prompt = failure_prompt(facts, service.settings.evidence_token_budget)
    answer: dict[str, Any] = {
        "id": run_id,
        "testName": test_name,
        "classification": facts["classification"],
        "jobHistory": facts["jobHistory"],
        "links": facts["links"],
        "evidence": prompt.evidence.as_list(),
        "promptVersion": prompt.version,
        "model": service.model,
    }
    if service.client is None:
        return {**builtin_explanation(facts), **answer, "cached": False}, facts
    reply = await service.model_text(
        purpose=PURPOSE, subject=f"{run_id}|{test_name}", prompt=prompt, refresh=refresh
    )
    parsed = parse_reply(reply.text)
    return {**parsed, **answer, "cached": reply.cached, "usage": reply.usage}, facts


async def _facts(service: SummaryService, run_id: int, test_name: str) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        with service.sessions() as session:
            return failure_facts(session, run_id, test_name)

    return await asyncio.to_thread(load)


def failure_prompt(facts: dict[str, Any], budget_tokens: int) -> Prompt:
    template = load_template("test_failure")
    user = Template(template.user["default"])
    values = {"test": defuse_fences(facts["test"]["name"]), "job": facts["run"]["name"]}
    frame = estimate_tokens(template.system) + estimate_tokens(
        user.safe_substitute(values, evidence="")
    )
    room = max(budget_tokens - frame - 2 * MESSAGE_OVERHEAD, 0)
    evidence = _evidence(facts, room)
    messages = [
        {"role": "system", "content": template.system},
        {"role": "user", "content": user.safe_substitute(values, evidence=evidence.text)},
    ]
    return Prompt(messages, evidence, template.version_id, estimate_messages(messages))


def _evidence(facts: dict[str, Any], room: int) -> Evidence:
    """Fixed facts first; the failure output gets what is left, shortened to fit."""
    run, test = facts["run"], facts["test"]
    history = facts["history"]
    failing_jobs = sum(1 for j in history["byJob"] if j["failures"])
    items = [
        EvidenceItem(
            "run",
            "run",
            "\n".join(
                [
                    f"Job: {run['name']}",
                    f"Run: {run['id']} | Release: {run.get('release')} | Result: "
                    f"{run['overallResult']} ({run['reason']})",
                ]
            ),
        ),
        EvidenceItem(
            "test",
            "test",
            "\n".join(
                [
                    f"Test: {test['name']} ({test['status']} in this run;"
                    f" suite {test['suite'] or '-'})",
                    f"In this job: {facts['jobHistory']['summary']}",
                    f"In all loaded runs: failed {history['failures']} of {history['runs']} runs, "
                    f"flaked {history['flakes']}; failing in {failing_jobs} job(s)",
                    f"Looks like: {facts['classification']}",
                ]
            ),
            source=test["source"],
        ),
    ]
    operators = [
        f"{o['name']}: {o['condition']}={o['status']} ({o.get('reason') or ''})"
        for o in run.get("clusterOperators") or []
    ][:8]
    if operators:
        items.append(EvidenceItem("cluster", "cluster operators", "\n".join(operators)))
    links = "\n".join(f"{link['title']}: {link['url']}" for link in facts["links"])
    items.append(EvidenceItem("links", "links", links))
    fixed = "\n\n".join(defuse_fences(i.text) for i in items)
    used = estimate_tokens(fixed) + 20
    output = defuse_fences(test["output"])
    chosen = ""
    for size in OUTPUT_SIZES:
        candidate = failure_snippet(output, size)
        if used + estimate_tokens(candidate) <= room:
            chosen = candidate
            break
    items.insert(2, EvidenceItem("failure", "failure output", chosen, source=test["source"]))
    text = "\n\n".join(f"## {i.title}\n{defuse_fences(i.text)}" for i in items if i.text)
    while estimate_tokens(text) > room and len(items) > 1:
        items.pop()
        text = "\n\n".join(f"## {i.title}\n{defuse_fences(i.text)}" for i in items if i.text)
    return Evidence(
        items=tuple(items),
        omitted={},
        text=text,
        tokens=estimate_tokens(text),
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )


def parse_reply(text: str) -> dict[str, Any]:
    """The model's JSON, or, when it wrote prose anyway, its first paragraph and its list."""
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            data = json.loads(text[start : end + 1])
            summary = str(data.get("summary") or "").strip()
            steps = [str(s).strip() for s in data.get("steps") or [] if str(s).strip()]
            if summary:
                return {"summary": summary, "steps": steps}
        except (json.JSONDecodeError, AttributeError):
            pass
    steps = [m.group(1) for line in text.splitlines() if (m := _NUMBERED.match(line))]
    prose = [line for line in text.strip().split("\n\n") if not _NUMBERED.match(line)]
    return {"summary": (prose[0] if prose else text).strip(), "steps": steps}


def builtin_explanation(facts: dict[str, Any]) -> dict[str, Any]:
    """Summary and steps from the facts alone, for a server with no model."""
    test, run = facts["test"], facts["run"]
    decisive = _decisive(test["output"])
    summary = (
        f'The test "{test["name"]}" {"failed" if test["status"] == "failure" else "flaked"} '
        f'in run {run["id"]} of "{run["name"]}"'
        + (f": {decisive}" if decisive else ".")
        + f" History in this job: {facts['jobHistory']['summary']}. "
        + ASSESSMENT[facts["classification"]]
    )
    links = {link["title"]: link["url"] for link in facts["links"]}
    junit = links.get("JUnit file with this failure", links.get("all artifacts", ""))
    steps = [f"Read the full failure output in the JUnit file: {junit}"]
    step_log = next((u for t, u in links.items() if t.startswith("step ")), None)
    if step_log:
        steps.append(
            f"Open the step log around the failure time for the test's own output: {step_log}"
        )
    if run.get("clusterOperators"):
        names = ", ".join(sorted({o["name"] for o in run["clusterOperators"]})[:4])
        where = links.get("gather-extra (cluster state)", links.get("all artifacts", ""))
        steps.append(
            f"Check the degraded or unavailable operators ({names}) in gather-extra: {where}"
        )
    if facts["classification"] in ("known flake", "persistent failure"):
        steps.append(
            "Compare with the earlier runs where it failed (GET /api/tests/history?"
            "test_name=…) to see whether the failure text is the same each time."
        )
    elif facts["classification"] == "new regression":
        steps.append(
            "It passed in the earlier runs of this job: compare this payload's or PR's "
            "changes with the last passing run."
        )
    if "must-gather" in links:
        steps.append(f"If the cause is still unclear, inspect must-gather: {links['must-gather']}")
    return {"summary": summary, "steps": steps, "model": BUILTIN}


def _decisive(output: str) -> str:
    snippet = failure_snippet(output, 400)
    for line in snippet.splitlines():
        if line.strip() and line.strip() != "…":
            return line.strip().rstrip(".") + "."
    return ""
