"""Themes of a payload's (or any set of) failed runs, named by the model or the built-in.

Grouping is data (`analysis.themes`); the model only names and summarises the groups, in
one call for all of them, cached by the groups' content.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime
from string import Template
from typing import Any

from sippy.ai.prompt import Prompt, load_template
from sippy.ai.service import SummaryService
from sippy.analysis.payload import failed_payload_runs, payload_summary
from sippy.analysis.themes import failed_runs, find_themes
from sippy.evidence.bundle import Evidence, EvidenceItem, defuse_fences
from sippy.evidence.tokens import MESSAGE_OVERHEAD, estimate_messages, estimate_tokens

PURPOSE = "themes"
NAMED_THEMES = 12  # the largest ones; the rest keep their built-in names


async def payload_themes(
    service: SummaryService, release_tag: str, *, refresh: bool = False
) -> dict[str, Any]:
    """`{releaseTag, phase, themes, unexplained, jobs, model, cached}`; PayloadNotFound."""

    def load() -> tuple[dict[str, Any], dict[str, Any]]:
        with service.sessions() as session:
            payload = payload_summary(session, release_tag)
            return payload, find_themes(session, failed_payload_runs(session, release_tag))

    payload, found = await asyncio.to_thread(load)
    named = await _name(service, found, f"payload {release_tag}", refresh)
    return {
        "releaseTag": payload["releaseTag"],
        "phase": payload["phase"],
        **named,
        "jobs": payload["jobs"],
    }


async def run_themes(
    service: SummaryService,
    *,
    release: str | None = None,
    since: datetime | None = None,
    job: str | None = None,
    refresh: bool = False,
) -> dict[str, Any]:
    """The same over the loaded failed runs matching the filters."""

    def load() -> dict[str, Any]:
        with service.sessions() as session:
            ids = failed_runs(session, release=release, since=since, job=job)
            return find_themes(session, ids)

    found = await asyncio.to_thread(load)
    scope = ", ".join(
        f"{k} {v}" for k, v in (("release", release), ("since", since), ("job", job)) if v
    )
    named = await _name(service, found, scope or "all loaded runs", refresh)
    return {"release": release, "since": since.isoformat() if since else None, "job": job, **named}


async def _name(
    service: SummaryService, found: dict[str, Any], scope: str, refresh: bool
) -> dict[str, Any]:
    themes = found["themes"]
    result = {
        "themes": themes,
        "unexplained": found["unexplained"],
        "runs": found["runs"],
        "model": "builtin",
        "cached": False,
    }
    if service.client is None or not themes:
        return result
    prompt = themes_prompt(themes[:NAMED_THEMES], scope, service.settings.evidence_token_budget)
    subject = hashlib.sha256(",".join(t["id"] for t in themes).encode()).hexdigest()[:32]
    reply = await service.model_text(
        purpose=PURPOSE, subject=subject, prompt=prompt, refresh=refresh
    )
    names = parse_names(reply.text)
    for theme in themes:
        if theme["id"] in names:
            theme["title"], theme["summary"] = names[theme["id"]]
            theme["namedBy"] = service.model
    return {**result, "model": service.model, "cached": reply.cached}


def themes_prompt(themes: list[dict[str, Any]], scope: str, budget_tokens: int) -> Prompt:
    template = load_template("themes")
    user = Template(template.user["default"])
    frame = estimate_tokens(template.system) + estimate_tokens(
        user.safe_substitute(scope=scope, evidence="")
    )
    room = max(budget_tokens - frame - 2 * MESSAGE_OVERHEAD, 0)
    items, used = [], 0
    for theme in themes:
        text = "\n".join(
            [
                f"id: {theme['id']}",
                f"runs: {len(theme['runs'])}, jobs: {len(theme['jobs'])} "
                f"({', '.join(theme['jobs'][:3])}{' …' if len(theme['jobs']) > 3 else ''})",
                f"tests: {'; '.join(theme['tests'][:3]) or '(build log)'}",
                f"failure: {' '.join(theme['representative'].split())[:300]}",
            ]
        )
        text = defuse_fences(text)
        cost = estimate_tokens(text) + 2
        if used + cost > room:
            break
        items.append(EvidenceItem("themes", theme["id"], text))
        used += cost
    body = "\n\n".join(item.text for item in items)
    evidence = Evidence(
        tuple(items), {}, body, estimate_tokens(body), hashlib.sha256(body.encode()).hexdigest()
    )
    messages = [
        {"role": "system", "content": template.system},
        {"role": "user", "content": user.safe_substitute(scope=scope, evidence=body)},
    ]
    return Prompt(messages, evidence, template.version_id, estimate_messages(messages))


def parse_names(text: str) -> dict[str, tuple[str, str]]:
    """id -> (title, summary) from the model's JSON array; anything unusable is skipped."""
    start, end = text.find("["), text.rfind("]")
    if not 0 <= start < end:
        return {}
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return {}
    names: dict[str, tuple[str, str]] = {}
    for entry in data if isinstance(data, list) else []:
        if not isinstance(entry, dict):
            continue
        theme_id, title = str(entry.get("id") or ""), str(entry.get("title") or "").strip()
        if theme_id and title:
            names[theme_id] = (title[:200], str(entry.get("summary") or "").strip()[:1000])
    return names
