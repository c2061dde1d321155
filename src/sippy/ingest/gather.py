"""Cluster state from gather-extra: wrong operator conditions, unhealthy nodes, failed machines.

Each file is `oc get <kind> -o json` output: a `List` (or `<Kind>List`) with `items`, though a
single object is accepted too (Insights archives store one ClusterOperator per file). Only
what is wrong is returned, one record per wrong condition, sorted so that the output does
not depend on the order the cluster listed things in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sippy.ingest.jsonpath import dig
from sippy.ingest.records import ArtifactError, MachineProblem, NodeProblem, OperatorCondition

NODE_PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
ROLE_LABEL = "node-role.kubernetes.io/"


# ---------------------------------------------------------------------------------------------
# Shared reading


def load_objects(data: bytes, source: str, kind: str) -> list[dict[str, Any]]:
    """The `kind` objects in a Kubernetes list or single-object file.

    Raises ArtifactError when the file is not JSON, not UTF-8, or not a list/object of that
    kind; list entries that are not objects, or are of another kind, are skipped.
    """
    document = _load_json(data, source)
    if isinstance(document, list):
        items: Any = document
    elif not isinstance(document, dict):
        raise ArtifactError(f"{source}: expected a JSON object, found {_type(document)}")
    elif "items" in document:
        items = document["items"]
        if items is None:  # `items: null` is how Go writes an empty list
            return []
        if not isinstance(items, list):
            raise ArtifactError(f"{source}: `items` is {_type(items)}, not a list")
    elif document.get("kind") == kind or isinstance(document.get("status"), dict):
        items = [document]
    else:
        raise ArtifactError(f"{source}: neither a list with `items` nor a {kind} object")
    return [item for item in items if isinstance(item, dict) and item.get("kind") in (None, kind)]


def _load_json(data: bytes, source: str) -> Any:
    if isinstance(data, str):
        text = data
    elif isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArtifactError(f"{source}: not UTF-8 (bad byte at offset {exc.start})") from None
    else:
        raise ArtifactError(f"{source}: expected bytes, got {type(data).__name__}")
    if not text.strip():
        raise ArtifactError(f"{source}: empty file")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        message = str(exc)[:120] or type(exc).__name__
        raise ArtifactError(f"{source}: not valid JSON ({message})") from None


def _type(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"  # a condition status written as a JSON bool
    if isinstance(value, int | float):
        return str(value)
    return ""


def _name(obj: dict[str, Any]) -> str:
    return _text(dig(obj, "metadata", "name")).strip()


def _conditions(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    conditions = dig(obj, "status", "conditions")
    if isinstance(conditions, list):
        yield from (c for c in conditions if isinstance(c, dict))


# ---------------------------------------------------------------------------------------------
# Cluster operators


def parse_cluster_operators(data: bytes, source: str) -> list[OperatorCondition]:
    """Every wrong condition: Degraded=True, or Available=False/Unknown, type kept.

    Sippy drops the condition type (so `status:"True"` silently means Degraded); here each
    entry names it, and an operator both degraded and unavailable gives two clear entries.
    """
    found: list[OperatorCondition] = []
    for operator in load_objects(data, source, "ClusterOperator"):
        name = _name(operator)
        for condition in _conditions(operator):
            kind, status = _text(condition.get("type")), _text(condition.get("status"))
            wrong = (kind == "Degraded" and status == "True") or (
                kind == "Available" and status in ("False", "Unknown")
            )
            if wrong:
                found.append(
                    OperatorCondition(
                        name=name,
                        condition=kind,
                        status=status,
                        reason=_text(condition.get("reason")),
                        message=_text(condition.get("message")),
                        last_transition_time=_text(condition.get("lastTransitionTime")) or None,
                        source=source,
                    )
                )
    return sorted(found, key=lambda c: (c.name, c.condition, c.status, c.reason, c.message))


def choose_operator_snapshots(
    files: list[tuple[str, list[OperatorCondition], float | None]],
) -> list[OperatorCondition]:
    """Merge every clusteroperators.json of a run into one list (Sippy reads only the first).

    Policy:
    - Every snapshot is considered. The one gathered LAST is primary, because it shows the
      cluster's final state: snapshots are ordered by their gathering step's finished time
      where known; a snapshot with a time counts as later than one without; ties and
      snapshots without times are ordered by path. The last in that order is primary.
    - All of the primary's entries come first, in their own (sorted) order.
    - Other snapshots, newest first, add an entry only for an operator+condition pair that
      no snapshot taken so far (primary included) has reported; so a problem seen earlier
      and gone by the end is still visible, once, with the file it came from.
    - Every entry keeps its `source`, so a reader can tell final state from history.
    """
    valid = [f for f in files if isinstance(f, tuple) and len(f) == 3 and isinstance(f[1], list)]
    ordered = sorted(valid, key=_snapshot_order, reverse=True)
    chosen: list[OperatorCondition] = []
    seen: set[tuple[str, str]] = set()
    for index, (_, conditions, _) in enumerate(ordered):
        added: set[tuple[str, str]] = set()
        for condition in conditions:
            pair = (condition.name, condition.condition)
            if index == 0 or pair not in seen:
                chosen.append(condition)
                added.add(pair)
        seen |= added
    return chosen


def _snapshot_order(
    snapshot: tuple[str, list[OperatorCondition], float | None],
) -> tuple[bool, float, str]:
    path, _, finished = snapshot
    timed = isinstance(finished, int | float) and not isinstance(finished, bool)
    when = float(finished) if timed and finished == finished else float("-inf")  # NaN: untimed
    return (when != float("-inf"), when, str(path))


# ---------------------------------------------------------------------------------------------
# Nodes


def parse_nodes(data: bytes, source: str) -> list[NodeProblem]:
    """Nodes not Ready (False or Unknown) or under memory/disk/PID/network pressure."""
    found: list[NodeProblem] = []
    for node in load_objects(data, source, "Node"):
        name, roles = _name(node), _roles(node)
        for condition in _conditions(node):
            kind, status = _text(condition.get("type")), _text(condition.get("status"))
            if (kind == "Ready" and status != "True") or (
                kind in NODE_PRESSURES and status == "True"
            ):
                found.append(
                    NodeProblem(
                        name=name,
                        condition=kind,
                        status=status or "Unknown",
                        reason=_text(condition.get("reason")),
                        message=_text(condition.get("message")),
                        roles=roles,
                        source=source,
                    )
                )
    return sorted(found, key=lambda p: (p.name, p.condition, p.status, p.reason))


def _roles(node: dict[str, Any]) -> list[str]:
    labels = dig(node, "metadata", "labels")
    if not isinstance(labels, dict):
        return []
    roles = {
        k[len(ROLE_LABEL) :] for k in labels if isinstance(k, str) and k.startswith(ROLE_LABEL)
    }
    legacy = labels.get("kubernetes.io/role")
    if isinstance(legacy, str) and legacy:
        roles.add(legacy)
    return sorted(r for r in roles if r)


# ---------------------------------------------------------------------------------------------
# Machines


def parse_machines(data: bytes, source: str) -> list[MachineProblem]:
    """Machines in phase Failed or carrying an errorReason/errorMessage.

    Cluster API machines name the same fields failureReason/failureMessage; both are read.
    """
    found: list[MachineProblem] = []
    for machine in load_objects(data, source, "Machine"):
        status = dig(machine, "status")
        phase = _text(dig(status, "phase"))
        reason = _text(dig(status, "errorReason")) or _text(dig(status, "failureReason"))
        message = _text(dig(status, "errorMessage")) or _text(dig(status, "failureMessage"))
        if phase == "Failed" or reason or message:
            found.append(
                MachineProblem(
                    name=_name(machine),
                    phase=phase,
                    error_reason=reason,
                    error_message=message,
                    node=_text(dig(status, "nodeRef", "name")),
                    source=source,
                )
            )
    return sorted(found, key=lambda p: (p.name, p.phase, p.error_reason, p.error_message))
