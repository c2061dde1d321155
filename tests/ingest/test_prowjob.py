"""parse_run_meta and prow_url_to_gcs: real prowjob.json, old started/finished, broken input."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sippy.ingest.prowjob import parse_run_meta, prow_url_to_gcs
from sippy.ingest.records import ArtifactError

PROWJOB = "sippy/pkg/prowloader/prowjob_test.json"
OLD_RUN = "test-infra/gubernator/test_data/kube_results.tar.gz.extracted/5043"
REAL_JOB = "pull-ci-openshift-origin-master-e2e-aws-csi"
REAL_ID = 1602362182819909632
REAL_PATH = f"origin-ci-test/pr-logs/pull/27600/{REAL_JOB}/{REAL_ID}"


def _parse(path: str, prowjob=None, started=None, finished=None):
    return parse_run_meta(path, prowjob=prowjob, started=started, finished=finished)


def _dump(value) -> bytes:
    return json.dumps(value).encode()


def _prowjob(**status) -> dict:
    return {
        "kind": "ProwJob",
        "metadata": {"labels": {}, "annotations": {}},
        "spec": {"type": "periodic", "job": "periodic-ci-x-4.18-e2e-aws", "cluster": "build05"},
        "status": {"state": "success", "build_id": "1900000000000000001", **status},
    }


# --- real files -------------------------------------------------------------------------------


def test_real_prowjob(realdata: Path) -> None:
    meta, warnings = _parse(REAL_PATH, prowjob=(realdata / PROWJOB).read_bytes())
    assert warnings == []
    assert meta.job_name == REAL_JOB
    assert meta.build_id == REAL_ID
    assert meta.state == "failure"
    assert meta.bucket == "origin-ci-test"
    assert meta.job_type == "presubmit"
    assert meta.cluster == "build01"
    assert (meta.org, meta.repo, meta.base_ref) == ("openshift", "origin", "master")
    [pull] = meta.pulls
    assert (pull.org, pull.repo, pull.number) == ("openshift", "origin", 27600)
    assert pull.author == "dgoodwin"
    assert pull.sha.startswith("8a6e6fbf")
    assert pull.link == "https://github.com/openshift/origin/pull/27600"
    assert meta.gcs_path == f"pr-logs/pull/27600/{REAL_JOB}/{REAL_ID}"
    assert meta.url.startswith("https://prow.ci.openshift.org/view/gs/origin-ci-test/")
    assert meta.start == datetime(2022, 12, 12, 17, 58, 9, tzinfo=UTC)
    assert meta.completion == datetime(2022, 12, 12, 19, 17, 57, tzinfo=UTC)
    assert meta.labels["prow.k8s.io/type"] == "presubmit"
    assert meta.annotations["prow.k8s.io/context"] == "ci/prow/e2e-aws-csi"
    assert meta.metadata_source == "prowjob.json"


def test_real_prowjob_wins_over_folder_name(realdata: Path) -> None:
    meta, warnings = _parse("runs/123", prowjob=(realdata / PROWJOB).read_bytes())
    assert meta.build_id == REAL_ID
    assert any("differs from the folder name 123" in w for w in warnings)


def test_real_old_started_finished(realdata: Path) -> None:
    run = realdata / OLD_RUN
    meta, warnings = _parse(
        "test-platform-results/logs/kubernetes-soak-continuous-e2e-gce/5043",
        started=(run / "started.json").read_bytes(),
        finished=(run / "finished.json").read_bytes(),
    )
    assert meta.build_id == 5043
    assert meta.job_name == "kubernetes-soak-continuous-e2e-gce"
    assert meta.job_type == "periodic"
    assert meta.state == "success"
    assert meta.start == datetime.fromtimestamp(1460712625, tz=UTC)
    assert meta.completion == datetime.fromtimestamp(1460733046, tz=UTC)
    assert meta.bucket == "test-platform-results"
    assert meta.gcs_path == "logs/kubernetes-soak-continuous-e2e-gce/5043"
    assert meta.url.endswith(
        "/view/gs/test-platform-results/logs/kubernetes-soak-continuous-e2e-gce/5043"
    )
    assert meta.metadata_source == "started.json/finished.json"
    assert any("prowjob.json missing" in w for w in warnings)


# --- fallbacks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prowjob", "why"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\xfa{}", "not UTF-8"),
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"[1, 2]", "not an object"),
        (b'{"kind": "Pod", "spec": {}}', "not a ProwJob"),
        (b'{"metadata": {}}', "neither spec nor status"),
        (b'"text"', "not an object"),
    ],
)
def test_broken_prowjob_falls_back_to_files(prowjob: bytes, why: str) -> None:
    meta, warnings = _parse(
        "logs/periodic-ci-a-4.20-e2e-aws/77",
        prowjob=prowjob,
        started=b'{"timestamp": 1715692800}',
        finished=b'{"timestamp": 1715703043, "passed": false, "result": "FAILURE"}',
    )
    assert meta.metadata_source == "started.json/finished.json"
    assert (meta.build_id, meta.job_name, meta.state) == (
        77,
        "periodic-ci-a-4.20-e2e-aws",
        "failure",
    )
    assert any(why in w and "prowjob.json" in w for w in warnings)


def test_started_without_finished_is_pending() -> None:
    meta, _ = _parse("logs/job-a/42", started=b'{"timestamp": 1715692800}')
    assert meta.state == "pending"
    assert meta.completion is None


@pytest.mark.parametrize(
    ("finished", "state"),
    [
        ({"result": "SUCCESS"}, "success"),
        ({"result": "ABORTED", "passed": False}, "aborted"),
        ({"result": "error", "metadata": {"uploader": "crier"}}, "error"),
        ({"result": "failure"}, "failure"),
        ({"passed": True}, "success"),
        ({"passed": False}, "failure"),
    ],
)
def test_finished_result_forms(finished: dict, state: str) -> None:
    meta, _ = _parse("logs/job-a/42", started=b"{}", finished=_dump({"timestamp": 1, **finished}))
    assert meta.state == state


def test_finished_without_result_warns() -> None:
    meta, warnings = _parse("logs/job-a/42", finished=b'{"timestamp": 5}')
    assert meta.state == ""
    assert any("neither a known result" in w for w in warnings)


def test_path_only_run() -> None:
    meta, warnings = _parse("some/folder/my-job/9001")
    assert (meta.build_id, meta.job_name, meta.state) == (9001, "my-job", "")
    assert meta.metadata_source == "path"
    assert meta.gcs_path == "" and meta.bucket == ""
    assert any("state unknown" in w for w in warnings)


def test_presubmit_path_and_started_refs(tmp_path) -> None:
    started = {
        "timestamp": 1715692800,
        "pull": "27600",
        "repos": {"openshift/origin": "master:ccbe590e,27600:8a6e6fbf"},
    }
    meta, _ = _parse(
        f"{tmp_path}/pr-logs/pull/openshift_origin/27600/{REAL_JOB}/5", started=_dump(started)
    )
    assert meta.job_type == "presubmit"
    assert (meta.org, meta.repo, meta.base_ref) == ("openshift", "origin", "master")
    assert [(p.number, p.sha) for p in meta.pulls] == [(27600, "8a6e6fbf")]
    assert meta.gcs_path == f"pr-logs/pull/openshift_origin/27600/{REAL_JOB}/5"
    assert meta.bucket == ""  # an absolute local path names no bucket


def test_repo_with_underscore_and_batch() -> None:
    meta, _ = _parse("pr-logs/pull/openshift_cluster_api/batch/pull-ci-x/8", started=b"{}")
    assert (meta.org, meta.repo, meta.job_type, meta.pulls) == (
        "openshift",
        "cluster_api",
        "batch",
        [],
    )


def test_pull_from_path_only() -> None:
    meta, _ = _parse("test-platform-results/pr-logs/pull/org_repo/12/pull-ci-y/8")
    assert [(p.org, p.repo, p.number) for p in meta.pulls] == [("org", "repo", 12)]
    assert meta.bucket == "test-platform-results"


def test_job_types_from_name() -> None:
    assert _parse("logs/branch-ci-openshift-x-main-images/3")[0].job_type == "postsubmit"
    assert _parse("logs/periodic-ci-x/3")[0].job_type == "periodic"


def test_no_build_id_raises() -> None:
    with pytest.raises(ArtifactError, match="build id"):
        _parse("some/folder/latest", started=b'{"timestamp": 1}')
    with pytest.raises(ArtifactError, match="build id"):
        _parse("", prowjob=_dump({"spec": {"job": "x"}, "status": {"state": "success"}}))
    with pytest.raises(ArtifactError, match="build id"):  # does not fit a BIGINT
        _parse("logs/job/99999999999999999999", started=b"{}")


# --- prowjob details --------------------------------------------------------------------------


def test_build_id_from_label_and_bucket_from_url() -> None:
    pj = _prowjob(url="https://prow.ci.openshift.org/view/gs/test-platform-results/logs/j/55")
    del pj["status"]["build_id"]
    pj["metadata"]["labels"]["prow.k8s.io/build-id"] = "55"
    meta, _ = _parse("x/55", prowjob=_dump(pj))
    assert meta.build_id == 55
    assert meta.bucket == "test-platform-results"
    assert meta.gcs_path == "logs/j/55"


def test_job_name_fallbacks() -> None:
    pj = _prowjob()
    del pj["spec"]["job"]
    pj["metadata"]["annotations"]["prow.k8s.io/job"] = "from-annotation"
    assert _parse("a/1", prowjob=_dump(pj))[0].job_name == "from-annotation"
    full = "periodic-ci-openshift-release-main-nightly-4.18-e2e-aws-ovn-serial-very-long-name"
    pj["metadata"]["annotations"] = {"prow.k8s.io/job": ""}
    pj["metadata"]["labels"]["prow.k8s.io/job"] = full[:63]  # labels are cut to 63 chars
    assert _parse(f"logs/{full}/1", prowjob=_dump(pj))[0].job_name == full
    assert _parse("zzz/1", prowjob=_dump(pj))[0].job_name == full[:63]


def test_pending_prowjob_but_finished_file() -> None:
    pj = _prowjob(state="pending")
    meta, warnings = _parse(
        "a/1", prowjob=_dump(pj), finished=b'{"timestamp": 9, "result": "FAILURE"}'
    )
    assert meta.state == "failure"
    assert meta.completion == datetime.fromtimestamp(9, tz=UTC)
    assert any("using finished.json" in w for w in warnings)


def test_unknown_state_and_odd_times() -> None:
    pj = _prowjob(state="exploded", startTime="2024-05-14T13:20:00.123+02:00", completionTime=7)
    meta, warnings = _parse("a/1", prowjob=_dump(pj))
    assert meta.state == ""
    assert meta.start == datetime(2024, 5, 14, 11, 20, 0, 123000, tzinfo=UTC)
    assert meta.start.tzinfo is UTC
    assert meta.completion is None
    assert any("unknown state" in w for w in warnings)


def test_extra_refs_used_for_periodics() -> None:
    pj = _prowjob()
    pj["spec"]["extra_refs"] = [{"org": "openshift", "repo": "release", "base_ref": "main"}]
    meta, _ = _parse("a/1", prowjob=_dump(pj))
    assert (meta.org, meta.repo, meta.base_ref, meta.pulls) == ("openshift", "release", "main", [])


@pytest.mark.parametrize(
    "mutate",
    [
        lambda pj: pj.update(spec="a string"),
        lambda pj: pj["spec"].update(refs={"org": 5, "pulls": {"number": 1}}),
        lambda pj: pj["spec"].update(
            refs={"org": "o", "repo": "r", "pulls": [None, {"number": "x"}]}
        ),
        lambda pj: pj["spec"].update(decoration_config=None, type=None, cluster=[]),
        lambda pj: pj["metadata"].update(labels=None, annotations=[1, 2]),
        lambda pj: pj["metadata"].update(labels={"a": 1, "b": None}),
        lambda pj: pj["status"].update(state=None, url=17, startTime="yesterday"),
        lambda pj: pj["status"].update(startTime="0001-01-01T00:00:00Z", completionTime=None),
        lambda pj: pj["status"].update(build_id=1900000000000000001),
    ],
)
def test_wrong_types_in_prowjob_never_crash(mutate) -> None:
    pj = _prowjob()
    mutate(pj)
    meta, _ = _parse("logs/job/1900000000000000001", prowjob=_dump(pj))
    assert meta.build_id == 1900000000000000001
    assert meta.job_name


def test_garbage_never_raises_anything_but_artifact_error() -> None:
    rng = random.Random(7)
    values = [None, 0, -1, 1e308, True, "", "x", [], {}, [1], {"a": None}, "2024-01-01T00:00:00Z"]
    paths = ["logs/j/1", "", "/", "a/b", "pr-logs/pull/x/y/z/1", "日本/語/12", "..\\..\\5"]
    for _ in range(400):
        docs = []
        for _ in range(3):
            if rng.random() < 0.3:
                docs.append(None)
            elif rng.random() < 0.3:
                docs.append(bytes(rng.randrange(256) for _ in range(rng.randrange(12))))
            else:
                shape = {k: rng.choice(values) for k in ("spec", "status", "metadata", "kind")}
                shape.update({k: rng.choice(values) for k in ("timestamp", "result", "passed")})
                shape.update(pull=rng.choice(values), repos=rng.choice([{"a/b": "m,1:s"}, *values]))
                docs.append(_dump(shape))
        try:
            meta, warnings = _parse(rng.choice(paths), *docs)
        except ArtifactError:
            continue
        assert isinstance(meta.build_id, int)
        assert all(isinstance(w, str) for w in warnings)


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://prow.ci.openshift.org/view/gs/test-platform-results/logs/job-a/123",
            ("test-platform-results", "logs/job-a/123"),
        ),
        (
            "https://prow.ci.openshift.org/view/gs/origin-ci-test/pr-logs/pull/27600/j/1/",
            ("origin-ci-test", "pr-logs/pull/27600/j/1"),
        ),
        (
            "https://gcsweb-ci.apps.ci.l2s4.p1.openshiftapps.com/gcs/test-platform-results/logs/j/1",
            ("test-platform-results", "logs/j/1"),
        ),
        ("https://prow.ci.openshift.org/view/gcs/b/logs/j/2?x=1#frag", ("b", "logs/j/2")),
        ("https://storage.googleapis.com/b/logs/j/3", ("b", "logs/j/3")),
        ("gs://b/logs/j/4", ("b", "logs/j/4")),
        ("https://prow.ci.openshift.org/view/gs/b/", None),
        ("https://prow.ci.openshift.org/view/gs/b/../etc", None),
        ("https://example.com/some/page", None),
        ("ftp://prow.ci.openshift.org/view/gs/b/logs/j/1", None),
        ("http://[::1", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_prow_url_to_gcs(url, expected) -> None:
    assert prow_url_to_gcs(url) == expected
