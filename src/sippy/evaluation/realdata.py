"""Real runs: no labels, so only what an independent check can confirm is reported.

* `rebuild_snapshots`: the payload snapshots in `../shared/realdata/historical-payload-data`
  flattened each failed job's JUnit files and cut its build log to a tail; they are put back
  into GCS layout so the ordinary loader reads them.
* `reference_tests`: the failed and flaked tests of a run folder from a bare lxml pass over
  its `*junit*.xml` files, written apart from the loader (it shares only Sippy's suite
  allowlist and ignore list, which are rules, not code paths): every test case of an
  importable suite, skipped ones dropped, a failure or error child = failed, the same
  (suite, name) failing and passing = flaked.
* `decisive_line`: the line of a failure text a CI engineer reads first (the first `fail [`,
  `[FAILED]`, `panic:` or `error:` line), or for a failure without one its `first_line`;
  recall is measured on them, as on the labelled lines, and reported apart; so is the same
  line of each failure in a suite Sippy does not import (kept as evidence, not as a test).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from sippy.evaluation.fields import summary_keys
from sippy.ingest.junit import is_ignored_test, is_suite_importable
from sippy.samples.generator import SNOWFLAKE_EPOCH_MS

SNAPSHOT_DIR = "historical-payload-data"
DECISIVE = re.compile(r"fail \[|\[FAILED\]|panic:|(?i:\berror:)")
SUCCEEDED_LETTERS = frozenset("S")
FAILED_LETTERS = frozenset("FIUNn")


def has_snapshots(root: Path) -> bool:
    return any(root.glob(f"{SNAPSHOT_DIR}/**/jobs/*/*/job.json"))


def rebuild_snapshots(root: Path, dest: Path) -> dict[int, str]:
    """Lay each snapshot job with JUnit or a build log out as `<dest>/<bucket>/logs/<job>/<id>/`.

    Returns build id -> the release controller's state for it (Succeeded / Failed), the
    independent verdict the result letters are checked against.
    """
    states: dict[int, str] = {}
    for job_json in sorted(root.glob(f"{SNAPSHOT_DIR}/**/jobs/*/*/job.json")):
        job = json.loads(job_json.read_text(encoding="utf-8"))
        bucket_path = str(job.get("gcs_bucket_path") or "")
        folder = job_json.parent
        junits = sorted((folder / "junit").glob("*.xml")) if (folder / "junit").is_dir() else []
        tail = folder / "build-log.tail-excerpt.txt"
        build = bucket_path.rsplit("/", 1)[-1]
        if "/logs/" not in bucket_path or not build.isdigit() or not (junits or tail.exists()):
            continue
        run = dest / bucket_path
        if run.exists():  # the same run verified two payloads
            continue
        run.mkdir(parents=True)
        build_id = int(build)
        states[build_id] = str(job.get("state") or "")
        start = ((build_id >> 22) + SNOWFLAKE_EPOCH_MS) // 1000 + 5
        (run / "started.json").write_text(json.dumps({"timestamp": start}))
        if states[build_id] in ("Succeeded", "Failed"):  # a Pending run had not finished
            passed = states[build_id] == "Succeeded"
            finished = {"timestamp": start + 7200, "passed": passed}
            finished["result"] = "SUCCESS" if passed else "FAILURE"
            (run / "finished.json").write_text(json.dumps(finished))
        if tail.exists():
            shutil.copy(tail, run / "build-log.txt")
        for junit in junits:
            if junit.name == "junit_operator.xml":
                target = run / "artifacts" / "junit_operator.xml"
            else:
                target = run / "artifacts" / "e2e" / "openshift-e2e-test" / "artifacts" / "junit"
                target = target / junit.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(junit, target)
    return states


@dataclass(slots=True)
class ReferenceTests:
    """A run's tests by the independent pass: summary keys, and each failure's text."""

    failed: set[str] = field(default_factory=set)
    flaked: set[str] = field(default_factory=set)
    failure_texts: dict[str, str] = field(default_factory=dict)  # failed key -> first text
    # failure texts of suites Sippy does not import (not tests, but evidence), in file order
    other_failure_texts: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # files lxml could not parse


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)


def reference_tests(run_dir: Path) -> ReferenceTests:
    out = ReferenceTests()
    outcomes: dict[tuple[str, str], list[bool]] = {}
    texts: dict[tuple[str, str], str] = {}
    for path in sorted(run_dir.rglob("*.xml")):
        rel = path.relative_to(run_dir).as_posix().lower()
        if "junit" not in rel:
            continue
        try:
            root = etree.parse(str(path), _PARSER).getroot()
        except (etree.XMLSyntaxError, OSError) as exc:
            out.unreadable.append(f"{path.name}: {exc}")
            continue
        tops = [root] if _local(root.tag) == "testsuite" else root.findall("{*}testsuite")
        for top in tops:
            if not is_suite_importable(top.get("name") or ""):
                out.other_failure_texts.extend(_failure_texts(top))
                continue
            for suite in top.iter("{*}testsuite"):
                _collect(suite, outcomes, texts)
    failed = [key for key, results in outcomes.items() if all(results)]
    flaked = [key for key, results in outcomes.items() if any(results) and not all(results)]
    failed_keys = summary_keys(failed)
    out.failed, out.flaked = failed_keys, summary_keys(flaked)
    repeated = Counter(name for _, name in failed)
    for suite, name in failed:
        key = f"{suite}.{name}" if repeated[name] > 1 else name
        out.failure_texts[key] = texts.get((suite, name), "")
    return out


def _collect(
    suite: etree._Element,
    outcomes: dict[tuple[str, str], list[bool]],
    texts: dict[tuple[str, str], str],
) -> None:
    suite_name = suite.get("name") or ""
    for case in suite.findall("{*}testcase"):
        name = case.get("name") or ""
        if is_ignored_test(name):
            continue
        children = {_local(child.tag): child for child in case}
        if "skipped" in children:
            continue
        bad = children.get("failure")
        if bad is None:
            bad = children.get("error")
        key = (suite_name, name)
        outcomes.setdefault(key, []).append(bad is not None)
        if bad is not None and key not in texts:
            texts[key] = _text_of(bad)


def _failure_texts(top: etree._Element) -> list[str]:
    """The failure text of every failed, not skipped, not ignored test case under `top`."""
    found = []
    for case in top.iter("{*}testcase"):
        children = {_local(child.tag): child for child in case}
        bad = children.get("failure", children.get("error"))
        if bad is None or "skipped" in children or is_ignored_test(case.get("name") or ""):
            continue
        found.append(_text_of(bad))
    return found


def _text_of(bad: etree._Element) -> str:
    """A failure's message and text, the message once."""
    message, body = bad.get("message") or "", bad.text or ""
    return body if not message or message in body else f"{message}\n{body}"


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def decisive_line(text: str) -> str:
    """The first decisive line of a failure text, stripped; "" when it has none."""
    for line in text.splitlines():
        if DECISIVE.search(line):
            return line.strip()
    return ""


def first_line(text: str) -> str:
    """The first non-blank line: where a failure without a decisive line starts saying why."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def letter_agrees(letter: str, state: str) -> bool | None:
    """Whether a result letter fits an independent state; None when the state says nothing."""
    state = state.lower()
    if state in ("succeeded", "success"):
        return letter in SUCCEEDED_LETTERS
    if state in ("failed", "failure", "error"):
        return letter in FAILED_LETTERS
    if state == "aborted":
        return letter == "A"
    return None
