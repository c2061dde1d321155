"""A bug draft for one failed test, ready to paste into Jira (wiki markup) or GitHub.

Everything but the summary paragraph is filled from the data (failure excerpt, job,
release, variants, links, how often and since when, other jobs, component), so nothing in
it is speculation; the summary is the same model answer as the debugging explanation (one
model call, cached, serves both) or the built-in one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sippy.ai.service import SummaryService
from sippy.ai.test_failure import explain_with_facts
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
    explanation, facts = await explain_with_facts(service, run_id, test_name, refresh=refresh)
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


@dataclass(frozen=True, slots=True)
class Markup:
    """How one bug tracker writes the pieces a bug draft is made of."""

    heading: str
    bullet: str
    sub_bullet: str
    escape: Callable[[str], str]
    link: Callable[[str, str | None], str]
    code: Callable[[str], list[str]]


def _jira_code(excerpt: str) -> list[str]:
    return ["{noformat}", excerpt.replace("{noformat}", "{ noformat}"), "{noformat}"]


def _md_code(excerpt: str) -> list[str]:
    fence = "`" * max(3, _longest_backtick_run(excerpt) + 1)
    return ["", fence, excerpt, fence]


def render_jira(facts: dict[str, Any], summary: str) -> str:
    return _render(facts, summary, JIRA)


def render_markdown(facts: dict[str, Any], summary: str) -> str:
    return _render(facts, summary, MARKDOWN)


def _render(facts: dict[str, Any], summary: str, mk: Markup) -> str:
    f = _facts_lines(facts)
    run, history, esc, li = f["run"], f["history"], mk.escape, mk.bullet
    lines = [
        f"{mk.heading}Summary",
        esc(summary),
        "",
        f"{mk.heading}Failure",
        f"Test: {esc(facts['test']['name'])}",
        *mk.code(f["excerpt"]),
        "",
        f"{mk.heading}Where",
        f"{li} Job: {mk.link(run['name'], run.get('url'))}",
        f"{li} Release: {esc(str(run.get('release')))}",
        f"{li} Variants: {esc(', '.join(run.get('variants') or []) or 'none')}",
        f"{li} Run: {mk.link(str(run['id']), run.get('url'))} "
        f"(result {esc(run['overallResult'])}: {esc(run['reason'])})",
        *[f"{li} {mk.link(link['title'], link['url'])}" for link in facts["links"]],
        "",
        f"{mk.heading}How often",
        f"{li} This job: {esc(f['job']['summary'])}",
        f"{li} All loaded runs: failed {history['failures']} of {history['runs']} "
        f"({history['failureRate']:.0%}), flaked {history['flakes']}",
        f"{li} First failure: {history['firstFailure'] or 'unknown'}; last failure: "
        f"{history['lastFailure'] or 'unknown'}",
    ]
    if f["others"]:
        lines.append(f"{li} Other jobs where it fails:")
        lines += [
            f"{mk.sub_bullet} {esc(j['job'])}: {j['failures']} of {j['runs']} runs"
            for j in f["others"]
        ]
    if f["component"]:
        lines += ["", f"{mk.heading}Component", esc(f["component"]) + " (from the test name)"]
    return "\n".join(lines)


def jira_escape(text: str) -> str:
    return _JIRA_SPECIAL.sub(lambda m: "\\" + m.group(), " ".join(str(text).split()))


def safe_url(url: str | None) -> str | None:
    """Only http(s) URLs become links: a run's URL comes from its artifacts, and a
    `javascript:` or `data:` one would run in the page that renders the draft."""
    if not url or not re.match(r"https?://[^\s]+$", url, re.IGNORECASE):
        return None
    return url


def jira_link(text: str, url: str | None) -> str:
    url = safe_url(url)
    if not url:
        return jira_escape(text)
    return f"[{jira_escape(text)}|{url.replace('|', '%7C').replace(']', '%5D')}]"


def md_escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_link(text: str, url: str | None) -> str:
    url = safe_url(url)
    if not url:
        return md_escape(text)
    quoted = url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")
    return f"[{md_escape(text)}]({quoted})"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


JIRA = Markup("h3. ", "*", "**", jira_escape, jira_link, _jira_code)
MARKDOWN = Markup("### ", "-", "  -", md_escape, md_link, _md_code)
