"""gather-extra parsers: real ClusterOperator lists and objects, nodes, machines, bad input."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest

from sippy.ingest.gather import (
    choose_operator_snapshots,
    parse_cluster_operators,
    parse_machines,
    parse_nodes,
)
from sippy.ingest.records import ArtifactError, OperatorCondition

EXAMPLES = "oc/pkg/cli/admin/upgrade/status/examples"
INSIGHTS = "insights-operator/docs/insights-archive-sample/config/clusteroperator"
SRC = "artifacts/e2e/gather-extra/artifacts/clusteroperators.json"


def _dump(value) -> bytes:
    return json.dumps(value).encode()


def _triples(conditions: list[OperatorCondition]) -> list[tuple[str, str, str]]:
    return [(c.name, c.condition, c.status) for c in conditions]


def _operator(name: str, **conditions: str) -> dict:
    return {
        "kind": "ClusterOperator",
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {"type": t, "status": s, "reason": f"{t}Reason", "message": f"{name} {t}"}
                for t, s in conditions.items()
            ]
        },
    }


# --- cluster operators: real files ------------------------------------------------------------


def test_real_degraded_list(realdata: Path) -> None:
    data = (realdata / EXAMPLES / "4.14.1-degraded-co.converted.json").read_bytes()
    found = parse_cluster_operators(data, SRC)
    assert _triples(found) == [
        ("control-plane-machine-set", "Available", "False"),
        ("etcd", "Degraded", "True"),
        ("kube-apiserver", "Degraded", "True"),
        ("kube-controller-manager", "Degraded", "True"),
        ("kube-scheduler", "Degraded", "True"),
    ]
    assert found[0].reason == "UnavailableReplicas"
    assert all(c.source == SRC and c.message and c.last_transition_time for c in found)


def test_real_cluster_operator_list_kind(realdata: Path) -> None:
    data = (realdata / EXAMPLES / "ocpbugs-60768-co.converted.json").read_bytes()
    assert _triples(parse_cluster_operators(data, SRC)) == [
        ("authentication", "Degraded", "True"),
        ("machine-config", "Degraded", "True"),
        ("openshift-apiserver", "Degraded", "True"),
    ]


def test_real_single_objects(realdata: Path) -> None:
    files = sorted((realdata / INSIGHTS).glob("*.json"))
    assert len(files) == 5
    for path in files:
        assert parse_cluster_operators(path.read_bytes(), path.name) == []
    etcd = json.loads((realdata / INSIGHTS / "etcd.json").read_bytes())
    for condition in etcd["status"]["conditions"]:
        if condition["type"] == "Degraded":
            condition["status"] = "True"
    [entry] = parse_cluster_operators(_dump(etcd), "etcd.json")
    assert (entry.name, entry.condition, entry.status, entry.source) == (
        "etcd",
        "Degraded",
        "True",
        "etcd.json",
    )


# --- cluster operators: rules -----------------------------------------------------------------


def test_condition_rules_and_type_kept() -> None:
    items = [
        _operator("both", Available="False", Degraded="True", Progressing="True"),
        _operator("unknown", Available="Unknown", Degraded="Unknown"),
        _operator("fine", Available="True", Degraded="False", Upgradeable="False"),
    ]
    found = parse_cluster_operators(_dump({"kind": "List", "items": items}), SRC)
    assert _triples(found) == [
        ("both", "Available", "False"),
        ("both", "Degraded", "True"),
        ("unknown", "Available", "Unknown"),
    ]


def test_output_order_does_not_depend_on_input_order() -> None:
    items = [_operator(f"op{i}", Available="False", Degraded="True") for i in range(8)]
    expected = parse_cluster_operators(_dump({"items": items}), SRC)
    random.Random(3).shuffle(items)
    assert parse_cluster_operators(_dump({"items": items}), SRC) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"{broken",
        b"\xff\xfe\x00garbage",
        b"",
        b"  ",
        b"42",
        b'"text"',
        b'{"items": "not a list"}',
        b'{"items": {"a": 1}}',
        b'{"kind": "Something", "spec": {}}',
        b"[" * 100_000,
    ],
)
def test_bad_files_raise_artifact_error(data: bytes) -> None:
    with pytest.raises(ArtifactError, match="clusteroperators.json"):
        parse_cluster_operators(data, SRC)


@pytest.mark.parametrize(
    "document",
    [
        {"items": None},
        {"items": []},
        {"items": [None, 1, "x", []]},
        {"items": [{"metadata": None, "status": None}]},
        {"items": [{"status": {"conditions": None}}]},
        {"items": [{"status": {"conditions": "Degraded"}}]},
        {"items": [{"status": {"conditions": [None, 1, {"type": None, "status": None}]}}]},
        {"items": [{**_operator("n", Degraded="True"), "kind": "Node"}]},
        [],
    ],
)
def test_wrong_types_give_empty_list(document) -> None:
    assert parse_cluster_operators(_dump(document), SRC) == []


def test_odd_field_types_are_tolerated() -> None:
    item = {
        "metadata": {"name": 5},
        "status": {"conditions": [{"type": "Degraded", "status": True, "reason": None}]},
    }
    [entry] = parse_cluster_operators(_dump([item]), SRC)
    assert (entry.name, entry.status, entry.reason, entry.last_transition_time) == (
        "5",
        "True",
        "",
        None,
    )


def test_fuzzed_documents_never_raise_other_errors() -> None:
    rng = random.Random(11)
    leaves = [None, True, 0, "", "True", "False", "Degraded", "Available", [], {}]

    def value(depth: int):
        if depth > 3 or rng.random() < 0.4:
            return rng.choice(leaves)
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randrange(3))]
        keys = [
            "items",
            "kind",
            "metadata",
            "name",
            "status",
            "conditions",
            "type",
            "labels",
            "phase",
            "errorReason",
            "nodeRef",
        ]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randrange(4))}

    for _ in range(500):
        data = _dump(value(0))
        for parser in (parse_cluster_operators, parse_nodes, parse_machines):
            with contextlib.suppress(ArtifactError):
                assert isinstance(parser(data, "f.json"), list)


# --- snapshots --------------------------------------------------------------------------------


def _cond(name: str, condition: str, source: str, status: str = "True") -> OperatorCondition:
    return OperatorCondition(name=name, condition=condition, status=status, source=source)


def test_last_gathered_snapshot_is_primary() -> None:
    early = "artifacts/e2e/gather-extra-pre/artifacts/clusteroperators.json"
    late = "artifacts/e2e/a-gather/artifacts/clusteroperators.json"
    chosen = choose_operator_snapshots(
        [
            (late, [_cond("etcd", "Degraded", late)], 2000.0),
            (early, [_cond("etcd", "Degraded", early), _cond("dns", "Available", early)], 1000.0),
        ]
    )
    assert [(c.name, c.condition, c.source) for c in chosen] == [
        ("etcd", "Degraded", late),
        ("dns", "Available", early),
    ]


def test_path_order_without_times_and_timed_beats_untimed() -> None:
    a, b, c = "a/clusteroperators.json", "b/clusteroperators.json", "c/clusteroperators.json"
    untimed = [(a, [_cond("x", "Degraded", a)], None), (b, [_cond("x", "Degraded", b)], None)]
    assert [e.source for e in choose_operator_snapshots(untimed)] == [b]
    timed = ("0/clusteroperators.json", [_cond("y", "Degraded", "0")], 5.0)
    mixed = [*untimed, (c, [], None), timed]
    # The timed snapshot is primary although its path sorts first; the newest untimed
    # snapshot that reports x adds it once.
    assert [(e.name, e.source) for e in choose_operator_snapshots(mixed)] == [("y", "0"), ("x", b)]


def test_healthy_final_snapshot_keeps_earlier_problem_once() -> None:
    first, second, last = "1/co.json", "2/co.json", "3/co.json"
    chosen = choose_operator_snapshots(
        [
            (first, [_cond("mc", "Available", first, "False")], 1.0),
            (second, [_cond("mc", "Available", second, "False")], 2.0),
            (last, [], 3.0),
        ]
    )
    assert [(c.name, c.source) for c in chosen] == [("mc", second)]


def test_snapshots_edge_cases() -> None:
    assert choose_operator_snapshots([]) == []
    only = [_cond("a", "Degraded", "x"), _cond("a", "Available", "x", "False")]
    assert choose_operator_snapshots([("x", only, float("nan"))]) == only
    assert choose_operator_snapshots([("x", None, 1.0)]) == []  # type: ignore[list-item]


# --- nodes ------------------------------------------------------------------------------------


def _node(name: str, labels: dict, **conditions: str) -> dict:
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": t, "status": s} for t, s in conditions.items()]},
    }


def test_nodes() -> None:
    master = {"node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": ""}
    items = [
        _node("ok", master, Ready="True", MemoryPressure="False"),
        _node("m1", master, Ready="False", DiskPressure="True"),
        _node("w1", {"node-role.kubernetes.io/worker": ""}, Ready="Unknown", PIDPressure="True"),
        _node("w2", {"kubernetes.io/role": "infra"}, Ready="True", NetworkUnavailable="True"),
        _node("w3", None, Ready="True", MemoryPressure="True"),
    ]
    found = parse_nodes(_dump({"kind": "List", "items": items}), "nodes.json")
    assert [(p.name, p.condition, p.status, p.roles) for p in found] == [
        ("m1", "DiskPressure", "True", ["control-plane", "master"]),
        ("m1", "Ready", "False", ["control-plane", "master"]),
        ("w1", "PIDPressure", "True", ["worker"]),
        ("w1", "Ready", "Unknown", ["worker"]),
        ("w2", "NetworkUnavailable", "True", ["infra"]),
        ("w3", "MemoryPressure", "True", []),
    ]
    assert {p.source for p in found} == {"nodes.json"}


def test_nodes_bad_input() -> None:
    with pytest.raises(ArtifactError):
        parse_nodes(b"\x80\x81", "nodes.json")
    assert parse_nodes(b'{"items": [{"status": {"conditions": null}}]}', "nodes.json") == []


# --- machines ---------------------------------------------------------------------------------


def test_machines() -> None:
    items = [
        {"metadata": {"name": "ok"}, "status": {"phase": "Running", "nodeRef": {"name": "n0"}}},
        {"metadata": {"name": "m-failed"}, "status": {"phase": "Failed"}},
        {
            "metadata": {"name": "m-error"},
            "status": {
                "phase": "Provisioned",
                "errorReason": "InvalidConfiguration",
                "errorMessage": "quota exceeded",
                "nodeRef": {"name": "ip-10-0-1-2"},
            },
        },
        {"metadata": {"name": "capi"}, "status": {"failureMessage": "boom"}},
        {"metadata": {"name": "nulls"}, "status": {"phase": None, "errorReason": None}},
    ]
    found = parse_machines(_dump({"kind": "MachineList", "items": items}), "machines.json")
    assert [(m.name, m.phase, m.error_reason, m.error_message, m.node) for m in found] == [
        ("capi", "", "", "boom", ""),
        ("m-error", "Provisioned", "InvalidConfiguration", "quota exceeded", "ip-10-0-1-2"),
        ("m-failed", "Failed", "", "", ""),
    ]


def test_machines_bad_input() -> None:
    with pytest.raises(ArtifactError, match="machines.json"):
        parse_machines(b'{"items": 3}', "machines.json")
