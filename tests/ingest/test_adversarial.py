"""Hostile artifacts, loaded end to end: each is reported with the file it came from, the
rest of the run and the other runs load, and nothing outside the source is ever read.

(`test_xmlsafe.py` covers the XML parser on its own; `test_load.py` one bad JUnit of each
kind. Here: what an attacker who controls a bucket or a folder would try.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest

from sippy.analysis.summary import job_run_summary
from sippy.db.engine import session_factory
from sippy.ingest.load import LoadReport, load_sources
from sippy.settings import Settings
from tests.helpers import JUNIT_ONE_FAILURE, database_text, make_run
from tests.ingest.test_gcs import gcs_server  # noqa: F401  (fake-gcs-server, this module's own)

JOB = "periodic-ci-openshift-release-main-nightly-4.20-e2e-aws-ovn"
RUN = 2054903419998572544
OTHER = 2054903419998572545
SECRET = "TOP-SECRET-7c1e9a"  # planted outside the source; must never reach the database
REPO = Path(__file__).resolve().parents[2]


def load(sources: list[str], engine, settings: Settings | None = None) -> LoadReport:  # type: ignore[no-untyped-def]
    """Load on a thread and fail (rather than hang the suite) if it does not finish."""
    result: list[LoadReport | BaseException] = []

    def work() -> None:
        try:
            result.append(load_sources(sources, settings or Settings(), engine))
        except BaseException as exc:  # reported below
            result.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(60)
    assert result, "the load did not finish within 60 s (blocked on a hostile file?)"
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def problems(report: LoadReport, run_id: int = RUN) -> dict[str, str]:
    outcome = next(o for o in report.outcomes if o.run_id == run_id)
    return dict(outcome.problems)


def summary(engine, run_id: int = RUN) -> dict:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as session:
        return job_run_summary(session, run_id)


def secret_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(f"{SECRET}\nroot:x:0:0:root:/root:/bin/bash\n")
    return secret


def assert_never_read(engine, report: LoadReport) -> None:  # type: ignore[no-untyped-def]
    """Neither the planted secret nor /etc/passwd is in the database or the report."""
    stored = database_text(engine) + repr(report)
    assert SECRET not in stored
    assert "root:x:0:0" not in stored


def test_external_entities_dtds_and_xinclude_never_read_a_file(tmp_path, engine):
    uri = secret_file(tmp_path).as_uri()
    hostile = {
        "xxe_secret": f'<!DOCTYPE t [<!ENTITY x SYSTEM "{uri}">]>'
        '<testsuite name="openshift-tests"><testcase name="a"><failure>&x;</failure>'
        "</testcase></testsuite>",
        "xxe_passwd": '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<testsuite name="openshift-tests"><testcase name="&x;"/></testsuite>',
        "parameter_entity": f'<!DOCTYPE t [<!ENTITY % p SYSTEM "{uri}"> %p;]><testsuite/>',
        "external_dtd": f'<!DOCTYPE testsuite SYSTEM "{uri}"><testsuite/>',
        "xinclude": '<testsuite name="openshift-tests" xmlns:xi="http://www.w3.org/2001/XInclude">'
        '<testcase name="included"><failure>fail: <xi:include href="'
        + uri
        + '" parse="text"/></failure></testcase></testsuite>',
    }
    files = {f"artifacts/junit/junit_{name}.xml": xml for name, xml in hostile.items()}
    make_run(
        tmp_path / "src",
        JOB,
        RUN,
        files={**files, "artifacts/junit/junit_ok.xml": JUNIT_ONE_FAILURE},
    )
    report = load([str(tmp_path / "src")], engine)
    assert report.count("loaded") == 1
    found = problems(report)
    for name in ("xxe_secret", "xxe_passwd", "parameter_entity"):
        assert "declares entities" in found[f"artifacts/junit/junit_{name}.xml"]
    assert "external DTD" in found["artifacts/junit/junit_external_dtd.xml"]
    assert "artifacts/junit/junit_xinclude.xml" not in found  # parsed; the include is inert
    failures = summary(engine)["testFailures"]
    assert any("pods cannot talk" in text for text in failures.values())  # the good file
    assert_never_read(engine, report)


def test_billion_laughs_is_refused_fast_and_never_expanded(tmp_path, engine):
    levels = ['<!ENTITY l0 "lollollollol">'] + [
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 12)
    ]
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(levels)}]>'
        '<testsuite name="openshift-tests"><testcase name="&l11;"><failure>&l11;</failure>'
        "</testcase></testsuite>"
    )
    make_run(tmp_path, JOB, RUN, files={"artifacts/junit/junit_bomb.xml": bomb})
    started = time.perf_counter()
    report = load([str(tmp_path)], engine)
    assert time.perf_counter() - started < 10
    assert "declares entities" in problems(report)["artifacts/junit/junit_bomb.xml"]
    assert "lollollollollol" not in database_text(engine)


def test_deep_nesting_in_xml_and_json_is_reported_not_a_crash(tmp_path, engine):
    depth = 100_000
    gather = "artifacts/e2e/gather-extra/artifacts"
    make_run(
        tmp_path,
        JOB,
        RUN,
        files={
            "artifacts/junit/junit_deep.xml": "<testsuite>" * depth + "</testsuite>" * depth,
            f"{gather}/clusteroperators.json": "[" * depth + "]" * depth,
            f"{gather}/nodes.json": '{"items": ' + '{"a": ' * depth + "1" + "}" * depth + "}",
            "artifacts/junit/junit_ok.xml": JUNIT_ONE_FAILURE,
        },
    )
    make_run(
        tmp_path,
        JOB,
        OTHER,
        prowjob=False,
        files={
            "prowjob.json": "[" * depth + "]" * depth,
            "finished.json": '{"timestamp": 1778761800, "passed": false, "result": "FAILURE"}',
        },
    )
    report = load([str(tmp_path)], engine)
    assert report.count("loaded") == 2
    found = problems(report)
    assert "depth" in found["artifacts/junit/junit_deep.xml"]
    assert "recursion" in found[f"{gather}/clusteroperators.json"]
    assert "recursion" in found[f"{gather}/nodes.json"]
    assert "prowjob.json is not valid JSON" in problems(report, OTHER)["prowjob.json"]
    assert summary(engine, OTHER)["overallResult"] != ""  # the fallback metadata loaded
    assert summary(engine)["testFailureCount"] == 1


def test_invalid_utf8_in_json_and_the_build_log(tmp_path, engine):
    gather = "artifacts/e2e/gather-extra/artifacts"
    log = (
        b"step e2e started\n"
        + b'level=error msg="quota exceeded \xff\xfe for vCPU \xc3" \n'
        + b"done\n"
    )
    make_run(
        tmp_path,
        JOB,
        RUN,
        files={
            f"{gather}/nodes.json": b'{"items": [{"metadata": {"name": "n\xff"}}]}',
            "build-log.txt": log,
        },
    )
    make_run(
        tmp_path,
        JOB,
        OTHER,
        prowjob=False,
        files={
            "prowjob.json": b'{"spec": {"job": "caf\xe9"}}',
            "finished.json": '{"timestamp": 1778761800, "passed": false, "result": "FAILURE"}',
        },
    )
    report = load([str(tmp_path)], engine)
    assert report.count("loaded") == 2
    assert "not UTF-8" in problems(report)[f"{gather}/nodes.json"]
    assert "not UTF-8" in problems(report, OTHER)["prowjob.json"]
    # A build log is text from many tools: bad bytes are replaced, by design not reported.
    assert "build-log.txt" not in problems(report)
    (snippet,) = [s for s in summary(engine)["logSnippets"] if s["kind"] == "quota"]
    assert "\ufffd" in snippet["text"] and "exceeded" in snippet["text"]


def test_links_loops_and_special_files_are_refused_and_never_read(tmp_path, engine):
    secret = secret_file(tmp_path)
    (secret.parent / "junit").mkdir()
    (secret.parent / "junit" / "junit_secret.xml").write_text(
        JUNIT_ONE_FAILURE.replace("pods cannot talk", SECRET)
    )
    source = tmp_path / "src"
    run = make_run(source, JOB, RUN, files={"artifacts/junit/junit_ok.xml": JUNIT_ONE_FAILURE})
    art = run / "artifacts"
    links = {
        "junit_passwd.xml": Path("/etc/passwd"),  # a file outside
        "junit_secret.xml": secret,
        "junit_dir": secret.parent / "junit",  # a folder outside
        "junit_dangling.xml": art / "nowhere.xml",
        "junit_self.xml": art / "junit_self.xml",  # loops
        "junit_a.xml": art / "junit_b.xml",
        "junit_b.xml": art / "junit_a.xml",
        "loop": art,  # a folder that contains itself
        "up": source,
        "junit_inside.xml": art / "junit" / "junit_ok.xml",  # inside the source: read
    }
    for name, target in links.items():
        (art / name).symlink_to(target, target_is_directory=target.is_dir())
    os.mkfifo(art / "junit_fifo.xml")  # reading it would block forever
    os.mkfifo(art / "fifo_target")
    (art / "junit_to_fifo.xml").symlink_to(art / "fifo_target")
    make_run(source, JOB, OTHER)
    report = load([str(source)], engine)
    assert report.count("loaded") == 2
    found = problems(report)
    leaves = "link leaves the source folder; not read"
    for name in ("junit_passwd.xml", "junit_secret.xml", "junit_dir"):
        assert found[f"artifacts/{name}"] == leaves
    for name in ("junit_dangling.xml", "junit_self.xml", "junit_a.xml", "junit_b.xml"):
        assert found[f"artifacts/{name}"].startswith("broken link")
    for name in ("loop", "up", "junit_fifo.xml", "junit_to_fifo.xml", "fifo_target"):
        assert found[f"artifacts/{name}"].startswith("not a regular file")
    assert "artifacts/junit_inside.xml" not in found
    failures = summary(engine)["testFailures"]
    assert sum("pods cannot talk" in t for t in failures.values()) == 1  # one name, two files
    assert_never_read(engine, report)


def test_a_run_folder_named_beyond_bigint_fails_alone(tmp_path, engine):
    huge = tmp_path / "test-platform-results" / "logs" / JOB / ("9" * 23)
    huge.mkdir(parents=True)
    (huge / "finished.json").write_text('{"timestamp": 1778761800, "result": "FAILURE"}')
    make_run(tmp_path, JOB, RUN)
    report = load([str(tmp_path)], engine)
    assert report.count("loaded") == 1 and report.count("failed") == 1
    failed = next(o for o in report.outcomes if o.status == "failed")
    assert "9" * 23 in failed.location and failed.why


def _upload(url: str, name: str, data: str) -> None:
    quoted = urllib.parse.quote(name, safe="")
    response = httpx.post(
        f"{url}/upload/storage/v1/b/test-platform-results/o?uploadType=media&name={quoted}",
        content=data.encode(),
    )
    assert response.status_code == 200, response.text


def test_dot_dot_and_absolute_object_names_in_a_bucket_are_refused(gcs_server, engine):  # noqa: F811
    url, _, _ = gcs_server
    job = "periodic-ci-hostile-names"
    run = f"logs/{job}/{RUN}"
    hostile = JUNIT_ONE_FAILURE.replace("pods cannot talk", SECRET)
    _upload(url, f"{run}/finished.json", '{"timestamp": 1778761800, "result": "FAILURE"}')
    _upload(url, f"{run}/artifacts/junit/junit_ok.xml", JUNIT_ONE_FAILURE)
    bad_names = [
        f"{run}/artifacts/../../../../../etc/junit_up.xml",
        f"{run}/artifacts/./junit_dot.xml",
        f"{run}/artifacts//junit_empty.xml",
    ]
    for name in bad_names:
        _upload(url, name, hostile)
    _upload(url, f"logs/{job}/../{job}/{OTHER}/finished.json", "{}")  # a run with no safe name
    report = load([f"gs://test-platform-results/logs/{job}"], engine, Settings(gcs_endpoint=url))
    assert report.count("loaded") == 1
    found = problems(report)
    for name in bad_names:
        rel = name.removeprefix(f"{run}/")
        assert found[rel] == "name has '..', '.' or empty path segments; not read"
    (stray,) = report.source_errors
    assert f"/../{job}/{OTHER}/finished.json" in stray and "not read" in stray
    assert SECRET not in database_text(engine)
    assert summary(engine)["testFailureCount"] == 1


# --- 100 MB single lines: the load's peak memory, measured in a fresh process -------------

MB = 1 << 20
MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    from sippy.db.engine import make_engine
    from sippy.db.migrate import upgrade
    from sippy.ingest.load import load_sources
    from sippy.settings import Settings

    source, dsn, cap = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine = make_engine(dsn)
    upgrade(engine)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = load_sources([source], Settings(max_artifact_bytes=cap, load_workers=1), engine)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outcome = report.outcomes[0]
    with engine.connect() as conn:
        lines = [r[0] for r in conn.exec_driver_sql("SELECT line FROM prow_job_run_log_snippets")]
    print(json.dumps({"growth": (after - before) * 1024, "status": outcome.status,
                      "problems": dict(outcome.problems), "snippet_lines": sorted(lines)}))
    """
)


def measure_load(source: Path, tmp_path: Path, cap: int) -> dict:
    """Load `source` into a fresh SQLite database in a new process; its peak RSS growth."""
    dsn = f"sqlite:///{tmp_path / f'measure-{cap}.db'}"  # fresh: nothing is "unchanged"
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(source), dsn, str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def write_line(path: Path, head: bytes, megabytes: int, tail: bytes) -> int:
    """One line of `megabytes` MiB between head and tail, written a MiB at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = b"x" * MB
    with path.open("wb") as out:
        out.write(head)
        for _ in range(megabytes):
            out.write(block)
        out.write(tail)
    return path.stat().st_size


@pytest.fixture
def big_run(tmp_path):  # type: ignore[no-untyped-def]
    run = make_run(tmp_path / "src", JOB, RUN)
    yield run
    for path in run.rglob("*"):  # 100 MB files: gone now, not when pytest prunes tmp
        if path.is_file():
            path.unlink()


def test_a_100_mb_single_line_build_log_is_scanned_in_constant_memory(big_run, tmp_path):
    size = write_line(
        big_run / "build-log.txt",
        b'level=error msg="quota exceeded for vCPU" ',
        100,
        b"\nerror: the last line\n",
    )
    result = measure_load(big_run.parents[3], tmp_path, 64 * MB)
    assert result["status"] == "loaded" and result["problems"] == {}
    assert result["snippet_lines"] == [1, 2]  # the 100 MB line, and the one after it
    assert result["growth"] < 16 * MB, f"peak RSS grew {result['growth'] / MB:.1f} MiB"
    assert size > 100 * MB


def test_a_100_mb_single_line_junit_failure_is_refused_within_bounded_memory(big_run, tmp_path):
    junit = big_run / "artifacts" / "junit" / "junit_e2e.xml"
    head = b'<testsuite name="openshift-tests"><testcase name="t"><failure>fail [a.go:1]: '
    size = write_line(junit, head, 100, b"</failure></testcase></testsuite>")
    source = big_run.parents[3]
    capped = measure_load(source, tmp_path, 64 * MB)  # the default cap: refused unread
    assert "over the 67,108,864-byte cap" in capped["problems"]["artifacts/junit/junit_e2e.xml"]
    assert capped["growth"] < 16 * MB, f"peak RSS grew {capped['growth'] / MB:.1f} MiB"
    read = measure_load(source, tmp_path, 128 * MB)  # allowed: read, and libxml2 refuses it
    assert "Text node too long" in read["problems"]["artifacts/junit/junit_e2e.xml"]
    assert read["status"] == "loaded"
    assert read["growth"] < 1.5 * size, f"peak RSS grew {read['growth'] / MB:.1f} MiB"
