"""A bug draft for one failed test, ready to paste into Jira (wiki markup) or GitHub.

Everything but the summary paragraph is filled from the data (failure excerpt, job,
release, variants, links, how often and since when, other jobs, component), so nothing in
it is speculation; the summary is the same model answer as the debugging explanation (one
model call, cached, serves both) or the built-in one.
"""

from __future__ import annotations

import re
from typing import Any

from sippy.ai.service import SummaryService
from sippy.ai.test_failure import explain
from sippy.analysis.test_failure import failure_facts
from sippy.evidence.snippets import failure_snippet

FORMATS = ("jira", "markdown")
MAX_TITLE = 254
EXCERPT_BYTES = 2000
MAX_OTHER_JOBS = 10
# Always special in Jira wiki markup; "-" only where it could start strikethrough or a list,
# "?" only doubled (citations). Hyphens inside names stay readable.
_JIRA_SPECIAL = re.compile(r"([\\{}\[\]|*_+^~!#])|((?:^|(?<=\s))-)|(\?\?)")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")
_SUITE_TAG = re.compile(r"\s*\[Suite:[^\]]*\]")
_LOCATION = re.compile(r"^\s*fail \[[^\]]*\]:\s*")


async def draft_bug(
    service: SummaryService,
    run_id: int,
    test_name: str,
    *,
    fmt: str = "jira",
    refresh: bool = False,
) -> dict[str, Any]:
    """`{title, description, format, model, cached, links}`; fmt is jira or markdown."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    explanation = await explain(service, run_id, test_name, refresh=refresh)

    def load() -> dict[str, Any]:
        with service.sessions() as session:
            return failure_facts(session, run_id, test_name)

    import asyncio

    facts = await asyncio.to_thread(load)
    render = render_jira if fmt == "jira" else render_markdown
    return {
        "title": bug_title(facts),
        "description": render(facts, explanation["summary"]),
        "format": fmt,
        "model": explanation["model"],
        "cached": explanation["cached"],
        "links": facts["links"],
    }


def bug_title(facts: dict[str, Any]) -> str:
    """`<test>: <symptom>`, under 255 characters."""
    name = _SUITE_TAG.sub("", facts["test"]["name"]).strip()
    if len(name) > 160:
        name = name[:159] + "…"
    symptom = _symptom(facts["test"]["output"])
    title = f"{name}: {symptom}" if symptom else f"{name} fails"
    title = " ".join(title.split())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def _symptom(output: str) -> str:
    for line in failure_snippet(output, 600).splitlines():
        line = _LOCATION.sub("", line).strip()
        if line and line != "…":
            return line
    return ""


def _facts_lines(facts: dict[str, Any]) -> dict[str, Any]:
    run, history, job = facts["run"], facts["history"], facts["jobHistory"]
    others = [j for j in history["byJob"] if j["failures"] and j["job"] != run["name"]][
        :MAX_OTHER_JOBS
    ]
    return {
        "run": run,
        "job": job,
        "history": history,
        "others": others,
        "excerpt": failure_snippet(facts["test"]["output"], EXCERPT_BYTES),
        "component": facts.get("component"),
    }


def render_jira(facts: dict[str, Any], summary: str) -> str:
    f = _facts_lines(facts)
    run, history = f["run"], f["history"]
    excerpt = f["excerpt"].replace("{noformat}", "{ noformat}")
    lines = [
        "h3. Summary",
        jira_escape(summary),
        "",
        "h3. Failure",
        f"Test: {jira_escape(facts['test']['name'])}",
        "{noformat}",
        excerpt,
        "{noformat}",
        "",
        "h3. Where",
        f"* Job: {jira_link(run['name'], run.get('url'))}",
        f"* Release: {jira_escape(str(run.get('release')))}",
        f"* Variants: {jira_escape(', '.join(run.get('variants') or []) or 'none')}",
        f"* Run: {jira_link(str(run['id']), run.get('url'))} "
        f"(result {jira_escape(run['overallResult'])}: {jira_escape(run['reason'])})",
        *[f"* {jira_link(link['title'], link['url'])}" for link in facts["links"]],
        "",
        "h3. How often",
        f"* This job: {jira_escape(f['job']['summary'])}",
        f"* All loaded runs: failed {history['failures']} of {history['runs']} "
        f"({history['failureRate']:.0%}), flaked {history['flakes']}",
        f"* First failure: {history['firstFailure'] or 'unknown'}; last failure: "
        f"{history['lastFailure'] or 'unknown'}",
    ]
    if f["others"]:
        lines.append("* Other jobs where it fails:")
        lines += [
            f"** {jira_escape(j['job'])}: {j['failures']} of {j['runs']} runs" for j in f["others"]
        ]
    if f["component"]:
        lines += ["", "h3. Component", jira_escape(f["component"]) + " (from the test name)"]
    return "\n".join(lines)


def render_markdown(facts: dict[str, Any], summary: str) -> str:
    f = _facts_lines(facts)
    run, history = f["run"], f["history"]
    fence = "`" * max(3, _longest_backtick_run(f["excerpt"]) + 1)
    lines = [
        "### Summary",
        md_escape(summary),
        "",
        "### Failure",
        f"Test: {md_escape(facts['test']['name'])}",
        "",
        fence,
        f["excerpt"],
        fence,
        "",
        "### Where",
        f"- Job: {md_link(run['name'], run.get('url'))}",
        f"- Release: {md_escape(str(run.get('release')))}",
        f"- Variants: {md_escape(', '.join(run.get('variants') or []) or 'none')}",
        f"- Run: {md_link(str(run['id']), run.get('url'))} "
        f"(result {md_escape(run['overallResult'])}: {md_escape(run['reason'])})",
        *[f"- {md_link(link['title'], link['url'])}" for link in facts["links"]],
        "",
        "### How often",
        f"- This job: {md_escape(f['job']['summary'])}",
        f"- All loaded runs: failed {history['failures']} of {history['runs']} "
        f"({history['failureRate']:.0%}), flaked {history['flakes']}",
        f"- First failure: {history['firstFailure'] or 'unknown'}; last failure: "
        f"{history['lastFailure'] or 'unknown'}",
    ]
    if f["others"]:
        lines.append("- Other jobs where it fails:")
        lines += [
            f"  - {md_escape(j['job'])}: {j['failures']} of {j['runs']} runs" for j in f["others"]
        ]
    if f["component"]:
        lines += ["", "### Component", md_escape(f["component"]) + " (from the test name)"]
    return "\n".join(lines)


def jira_escape(text: str) -> str:
    return _JIRA_SPECIAL.sub(lambda m: "\\" + m.group(), " ".join(str(text).split()))


def jira_link(text: str, url: str | None) -> str:
    if not url:
        return jira_escape(text)
    return f"[{jira_escape(text)}|{url.replace('|', '%7C').replace(']', '%5D')}]"


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_link(text: str, url: str | None) -> str:
    if not url:
        return md_escape(text)
    return f"[{md_escape(text)}]({url.replace(' ', '%20').replace(')', '%29')})"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
