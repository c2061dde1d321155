"""Prompts are versioned template files; this module fills them with a run's evidence.

The evidence is fenced between `<evidence>` lines and any fence marker inside it is
defused, so artifact text cannot close the fence and pose as instructions. The whole
prompt (system and user messages, chat-template overhead included) stays within the
token budget whatever the run's size.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template
from typing import Any

from sippy.evidence.bundle import Evidence, build_evidence, defuse_fences
from sippy.evidence.tokens import MESSAGE_OVERHEAD, estimate_messages, estimate_tokens

UNFINISHED = {"A", "R"}


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    name: str
    version: int
    system: str
    user: dict[str, str]  # variant -> template text with $placeholders
    digest: str

    @property
    def version_id(self) -> str:
        """`job_run_summary.v1-1a2b3c4d`: the number a human bumps, and the file's digest."""
        return f"{self.name}.v{self.version}-{self.digest[:8]}"


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[dict[str, str]]
    evidence: Evidence
    version: str
    estimated_tokens: int


@cache
def load_template(name: str, version: int = 1) -> PromptTemplate:
    """Read `prompts/<name>.v<version>.toml` from the package."""
    raw = (resources.files("sippy.ai") / "prompts" / f"{name}.v{version}.toml").read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    return PromptTemplate(
        name=data["name"],
        version=int(data["version"]),
        system=data["system"].strip(),
        user={k.removeprefix("user_"): v.strip() for k, v in data.items() if k.startswith("user_")},
        digest=hashlib.sha256(raw).hexdigest(),
    )


def job_run_prompt(summary: dict[str, Any], budget_tokens: int) -> Prompt:
    """The chat messages for a run's summary dict, estimated within `budget_tokens`."""
    template = load_template("job_run_summary")
    variant = _variant(summary["overallResult"])
    values = {"job": defuse_fences(summary["name"]), "reason": summary["reason"]}
    user = Template(template.user[variant])
    frame = estimate_tokens(template.system) + estimate_tokens(
        user.safe_substitute(values, evidence="")
    )
    room = budget_tokens - frame - 2 * MESSAGE_OVERHEAD
    evidence = build_evidence(summary, max(room, 0))
    messages = [
        {"role": "system", "content": template.system},
        {"role": "user", "content": user.safe_substitute(values, evidence=evidence.text)},
    ]
    return Prompt(messages, evidence, template.version_id, estimate_messages(messages))


def _variant(result: str) -> str:
    if result == "S":
        return "succeeded"
    return "unfinished" if result in UNFINISHED else "failed"
