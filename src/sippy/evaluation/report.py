"""The evaluation as tables on the terminal (the `--json` output is the report dict itself)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

FIELD_LABELS = {
    "overallResult": "result letter",
    "failedTests": "failed tests",
    "flakedTests": "flaked tests",
    "degradedOperators": "degraded operators (final snapshot)",
    "badNodes": "bad nodes (final snapshot)",
    "failedMachines": "failed machines (final snapshot)",
}


def render(console: Console, report: dict[str, Any]) -> None:
    if report["mode"] == "generated":
        _generated(console, report)
    else:
        _sources(console, report)


def _generated(console: Console, report: dict[str, Any]) -> None:
    corpus = report["corpus"]
    title = (
        f"sippy eval: generated corpus, labelled ({corpus['runs']} runs, seed {corpus['seed']};"
        f" {corpus['payloads']} payloads, {corpus['payloadRuns']} runs,"
        f" {corpus['plantedThemes']} planted themes)"
    )
    table = _table(title)
    for name, label in FIELD_LABELS.items():
        item = report["fields"][name]
        table.add_row(label, _ratio(item["right"], item["runs"]), "", "")
    recall = report["evidenceRecall"]
    size = report["promptSize"]
    table.add_row(
        "evidence recall (root-cause lines in the input)",
        f"{_num(recall['ours'])} of {recall['lines']} lines",
        f"{_num(recall['original256ByteTail'])} (256-byte tails)",
        f"{recall['runs']} failed runs, same runs for both; whole line"
        f" {_num(recall['oursWholeLine'])} vs {_num(recall['original256ByteTailWholeLine'])}",
    )
    table.add_row(
        "prompt tokens (estimated)",
        f"median {_int(size['median'])}, max {_int(size['max'])};"
        f" {size['withinBudget']}/{size['prompts']} ≤ {size['budget']:,}",
        f"median {_int(size['originalMedian'])}, max {_int(size['originalMax'])}",
        "every loaded run",
    )
    themes = report["themes"]
    base = themes["baselineSameTestName"]
    if themes["plantedThemes"]:
        table.add_row(
            "theme F1 (pairwise co-membership)",
            f"{themes['f1']:.2f} (P {themes['precision']:.2f}, R {themes['recall']:.2f})",
            f"{base['f1']:.2f} (P {base['precision']:.2f}, R {base['recall']:.2f}) same test name",
            f"{themes['exactMatches']}/{themes['plantedThemes']} planted themes found exactly;"
            f" {themes['foundThemes']} found",
        )
    else:
        table.add_row("theme F1 (pairwise co-membership)", "n/a", "", "no themes planted")
    answers = report["answers"]
    table.add_row(
        f"answer names the planted cause ({answers['model']})",
        _ratio(answers["namesCause"], answers["scored"]),
        "",
        f"{answers['errors']} errors"
        + (f", {answers['cached']} cached" if answers["cached"] else ""),
    )
    console.print(table)
    kinds = Table(title="evidence recall by kind of run", title_justify="left")
    for column in ("kind", "runs", "lines", "ours", "ours, whole line", "256-byte tails"):
        kinds.add_column(column, justify="left" if column == "kind" else "right")
    for group, item in recall["byGroup"].items():
        kinds.add_row(
            group,
            str(item["runs"]),
            str(item["lines"]),
            _num(item["ours"]),
            _num(item["oursWholeLine"]),
            _num(item["original256ByteTail"]),
        )
    console.print(kinds)
    load = report["load"]
    console.print(
        f"loaded {load['loaded']} runs ({load['failed']} failed, {load['problems']} artifact"
        f" problems); {report['seconds']} s in all. Labelled: every figure above is scored against"
        " ground truth written by this project's own generator (samples.generator,"
        " samples.payloads), which plants causes where naive tools miss them; read them as"
        " checks of the pipeline, not as rates on real CI.",
        markup=False,
        highlight=False,
    )


def _sources(console: Console, report: dict[str, Any]) -> None:
    load = report["load"]
    table = _table(
        "sippy eval: real runs, UNLABELLED (agreement with independent checks, not accuracy)"
    )
    kinds = ", ".join(f"{k['problem']}: {k['count']}" for k in load["problemKinds"][:2])
    table.add_row(
        "runs loaded",
        f"{load['loaded'] + load['unchanged']} ({load['failed']} failed)",
        "",
        f"{load['problems']} artifact problems" + (f" ({kinds})" if kinds else ""),
    )
    tests = report["tests"]
    table.add_row(
        "failed tests = bare lxml pass over the JUnit",
        _ratio(tests["failedAgree"], tests["runs"], "runs"),
        "",
        "same suite allowlist and ignore list, separate parser",
    )
    table.add_row(
        "flaked tests = bare lxml pass over the JUnit",
        _ratio(tests["flakedAgree"], tests["runs"], "runs"),
        "",
        "",
    )
    letters = report["resultLetters"]
    table.add_row(
        "result letter fits the run's state",
        _ratio(letters["agree"], letters["checked"], "runs"),
        "",
        f"{letters['releaseController']} against the release controller,"
        f" {letters['prowState']} against Prow's state",
    )
    size = report["promptSize"]
    table.add_row(
        "prompt tokens (estimated)",
        f"median {_int(size['median'])}, max {_int(size['max'])};"
        f" {size['withinBudget']}/{size['prompts']} ≤ {size['budget']:,}",
        f"median {_int(size['originalMedian'])}, max {_int(size['originalMax'])}",
        "",
    )
    recall = report["decisiveLineRecall"]
    for group, item in recall["byGroup"].items():
        table.add_row(
            f"{group} in the input",
            f"{_num(item['ours'])} of {item['lines']} lines",
            f"{_num(item['original256ByteTail'])} (256-byte tails)",
            f"in {item['runs']} runs; whole line {_num(item['oursWholeLine'])}",
        )
    if not recall["byGroup"]:
        table.add_row("failed tests' lines in the input", "n/a", "n/a", "no failed test found")
    console.print(table)
    for note in report["notes"]:
        console.print(note, markup=False, highlight=False)
    console.print(
        f"{report['seconds']} s in all. Unlabelled: no ground truth exists for these runs. The"
        " checks above compare the pipeline with an independent reading of the same files (or the"
        " release controller's verdict); themes and answers are not scored here.",
        markup=False,
        highlight=False,
    )


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("check")
    table.add_column("ours", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("detail")
    return table


def _ratio(right: int, total: int, unit: str = "") -> str:
    if not total:
        return "n/a"
    suffix = f" {unit}" if unit else ""
    return f"{right / total:.2f} ({right}/{total}{suffix})"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _int(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


class RichSteps:
    """`runner.Steps` on a rich progress bar: one task per stage, the previous one hidden."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def stage(self, what: str, total: int | None = None) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(what, total=total)

    def total(self, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, total=total)

    def advance(self, amount: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)
