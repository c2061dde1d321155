"""Failure clustering: copies of one failure fold, different failures stay apart, fast."""

from __future__ import annotations

import hashlib
import random
import string
from collections import Counter
from pathlib import Path

import pytest
from rapidfuzz.distance import Levenshtein

from sippy.analysis import clustering
from sippy.analysis.clustering import (
    ClusterItem,
    assign_leaders,
    cluster_failures,
    decisive_text,
    failure_key,
)

SAFE = "bcdfghjklmnpqrstvwxz2456789"


def _items(texts: list[str]) -> list[ClusterItem]:
    return [ClusterItem(f"run-{i:04d}|test", text) for i, text in enumerate(texts)]


def _route(rng: random.Random, name: str = "frontend") -> str:
    suffix = "".join(rng.choice(SAFE) for _ in range(5))
    return (
        f"fail [github.com/openshift/origin/test/extended/router/router.go:{rng.randint(1, 999)}]"
        f': route "{name}" in namespace e2e-test-router-{suffix} was not admitted within '
        f"{rng.randint(1, 9)}m{rng.randint(0, 59)}s at 10.0.{rng.randint(0, 255)}."
        f"{rng.randint(0, 255)}:{rng.randint(1024, 65535)}\nGinkgo exit error 1: exit with code 1"
    )


def test_copies_differing_only_in_volatile_parts_fold() -> None:
    rng = random.Random(1)
    texts = [_route(rng) for _ in range(20)]
    texts += [
        f"2026-05-{d:02d}T0{d % 10}:12:13Z level=error msg=failed to fetch Cluster: node "
        f"ip-10-0-{d}-{d * 3}.ec2.internal pod etcd-{''.join(rng.choice(SAFE) for _ in range(9))}"
        f"-{''.join(rng.choice(SAFE) for _ in range(5))} uid {rng.randbytes(16).hex()[:8]}-"
        f"4b1c-4d2e-8f3a-{rng.randbytes(6).hex()} took {d}.{d}s"
        for d in range(1, 15)
    ]
    clusters = cluster_failures(_items(texts))
    assert [c.size for c in clusters] == [20, 14]
    assert clusters[0].representative.startswith("fail [github.com/openshift/origin/test/")
    assert "<dur>" in clusters[0].representative and "<ns>" in clusters[0].representative


def test_different_failures_stay_apart() -> None:
    texts = [
        'fail [github.com/openshift/origin/test/extended/router/router.go:12]: route "a" was '
        "not admitted within 3m0s",
        "fail [github.com/openshift/origin/test/extended/builds/s2i.go:88]: Expected\n"
        "    <int>: 3\nto equal\n    <int>: 0",
        "fail [github.com/openshift/origin/test/extended/builds/s2i.go:88]: Expected\n"
        '    <string>: "Running"\nto equal\n    <string>: "Complete"',
        "backend-disruption-name/kube-api-new-connections was unreachable during disruption "
        "testing for at least 4s of 1h2m3s (maxAllowed=1s)",
        "level=error msg=Error: creating EC2 Instance: VcpuLimitExceeded: You have requested "
        "more vCPU capacity than your current vCPU limit of 64 allows",
        "openshift cluster install failed with cluster bootstrap",
        "openshift cluster install failed overall",
    ]
    clusters = cluster_failures(_items(texts))
    assert len(clusters) == len(texts)


def test_one_word_changed_in_a_long_message_joins() -> None:
    base = (
        "fail [github.com/openshift/origin/test/extended/apiserver/api_requests.go:{n}]: "
        "the kube-apiserver reported {w} requests to the deprecated flowcontrol API while "
        "the cluster was upgrading from one minor version to the next, which breaks clients"
    )
    texts = [base.format(n=41, w="unexpected"), base.format(n=57, w="unwelcome")]
    assert [c.size for c in cluster_failures(_items(texts))] == [2]
    assert len(cluster_failures(_items(texts), threshold=1.0)) == 2


def test_deterministic_under_shuffling_with_stable_ids() -> None:
    rng = random.Random(7)
    items = [ClusterItem(f"k{i}", text) for i, text in enumerate(_planted(rng, 400)[0])]
    first = cluster_failures(items)
    for seed in range(3):
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        assert cluster_failures(shuffled) == first
    for cluster in first:
        expected = hashlib.sha1(cluster.representative.encode()).hexdigest()[:16]
        assert cluster.id == expected
    # The same members in another batch: the same theme, the same id.
    largest = first[0]
    alone = [item for item in items if item.key in set(largest.keys)]
    assert cluster_failures(alone) == [largest]


def test_every_key_once_largest_first() -> None:
    rng = random.Random(3)
    texts, _truth = _planted(rng, 600)
    items = _items(texts)
    clusters = cluster_failures(items)
    keys = [key for c in clusters for key in c.keys]
    assert sorted(keys) == sorted(i.key for i in items)
    assert all(c.size == len(c.keys) and list(c.keys) == sorted(c.keys) for c in clusters)
    order = [(-c.size, c.id) for c in clusters]
    assert order == sorted(order)
    assert len({c.id for c in clusters}) == len(clusters)


def test_empty_input_and_bad_threshold() -> None:
    assert cluster_failures([]) == []
    with pytest.raises(ValueError):
        cluster_failures([], threshold=0.0)
    with pytest.raises(ValueError):
        cluster_failures([], threshold=1.5)


def test_planted_groups_are_recovered() -> None:
    rng = random.Random(11)
    texts, truth = _planted(rng, 3000)
    items = _items(texts)
    position = {item.key: i for i, item in enumerate(items)}
    found = [0] * len(items)
    for number, cluster in enumerate(cluster_failures(items)):
        for key in cluster.keys:
            found[position[key]] = number
    precision, recall, f1 = _pairwise(truth, found)
    assert f1 >= 0.95, (precision, recall, f1)


def test_decisive_part_is_chosen() -> None:
    verdict = (
        "  STEP: creating a route\nsome progress line\n"
        "fail [github.com/openshift/origin/test/extended/router/router.go:9]: route not "
        "admitted\n    details of it\n\nunrelated tail"
    )
    assert decisive_text(verdict).startswith("fail [github.com/")
    assert "unrelated tail" not in decisive_text(verdict)
    gotest = (
        "Failed\n=== RUN   TestX\n    x.go:10: created cluster in 21s\n"
        "    x.go:20: Failed to wait for nodes: context deadline exceeded\n--- FAIL: TestX (3.2s)"
    )
    assert failure_key(gotest).startswith("x.go:<n>: Failed to wait for nodes")
    summary = "14 container starts had issues\n\ncontainer failed to start at 12:00: pod/a"
    assert failure_key(summary) == "<n> container starts had issues"
    install = (
        'time="2026-05-13T19:05:19Z" level=info msg="Waiting up to 40m0s"\n'
        'time="2026-05-13T19:45:19Z" level=error msg="Bootstrap failed to complete"'
    )
    assert "Bootstrap failed" in failure_key(install)


@pytest.mark.parametrize(
    ("threshold", "sample"), [(0.95, 4000), (0.9, 4000), (0.9, 25), (0.8, 4000), (0.6, 4000)]
)
def test_leaders_are_those_of_comparing_with_every_leader(
    threshold: float, sample: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The indexes only skip leaders that cannot be similar, also when q-gram frequencies
    come from a sample of the keys."""
    monkeypatch.setattr(clustering, "GRAM_SAMPLE", sample)
    rng = random.Random(5)
    texts, _truth = _planted(rng, 500)
    keys = sorted({failure_key(t) for t in texts})
    keys += ["", "a", "ab", "aaaaaaaaaaaa", "aaaaaaaaaaab", "xyxyxyxyxyxy", "xyxyxyxyxyxz"]
    keys += ["".join(rng.choice("ab <n>") for _ in range(rng.randint(0, 30))) for _ in range(80)]
    keys = list(dict.fromkeys(keys))
    leader = assign_leaders(keys, threshold)
    leaders: list[int] = []
    for index, key in enumerate(keys):
        similar = [j for j in leaders if _similar(key, keys[j], threshold)]
        if similar:
            assert leader[index] in similar
        else:
            assert leader[index] == index
            leaders.append(index)


def test_pathological_input_never_raises() -> None:
    texts = [
        "",
        "   \n\n\t",
        "\x00\x01\x02",
        "fail [unterminated",
        "x" * 1_000_000,
        ("level=info msg=waiting\n" * 50_000) + "level=error msg=boom",
        "日本語のエラー: ポッドが起動しませんでした 🚀" * 200,
        "e\u0301rror: combining marks \ud800 lone surrogate",
        "fail [" + "]" * 10_000,
        "a" * 5000,
        "a" * 4999 + "b",
        "\n".join(f"line {i} failed" for i in range(100_000)),
    ]
    items = _items(texts) + [ClusterItem("none", None)]  # type: ignore[arg-type]
    clusters = cluster_failures(items)
    assert sorted(k for c in clusters for k in c.keys) == sorted(i.key for i in items)
    assert all(len(c.representative) <= 400 for c in clusters)


def test_real_payload_failures(realdata: Path) -> None:
    from sippy.ingest.junit import parse_junit

    root = realdata / "historical-payload-data"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    items = []
    for path in sorted(root.rglob("*.xml")):
        parts = path.relative_to(root).parts
        job = parts[parts.index("jobs") + 2] if "jobs" in parts else path.parent.name
        for case in parse_junit(path.read_bytes(), str(path)).cases:
            if case.failed:
                items.append(ClusterItem(f"{parts[0]}/{job}|{case.name}", case.output or ""))
    assert len(items) > 50
    clusters = cluster_failures(items)
    home = {key: c for c in clusters for key in c.keys}

    # One install failure repeated in two payloads' metal jobs is one theme; its siblings
    # ("with cluster bootstrap", "with other errors") are not.
    overall = [i.key for i in items if i.key.endswith("|install should succeed: overall")]
    assert len({key.split("/")[0] for key in overall}) >= 2
    assert len({home[key].id for key in overall}) == 1
    siblings = [
        i.key for i in items if "|install should succeed: " in i.key and i.key not in overall
    ]
    assert siblings and all(home[key].id != home[overall[0]].id for key in siblings)

    # "platform pods in ns/X should not fail to start", one test per namespace, each text
    # different ("14 container starts had issues" then per-pod lines): one theme.
    starts = [i for i in items if i.key.endswith("should not fail to start")]
    assert len(starts) >= 20 and len({i.text for i in starts}) == len(starts)
    assert len({home[i.key].id for i in starts}) == 1
    assert home[starts[0].key].representative == "<n> container starts had issues"
    assert clusters[0].id == home[starts[0].key].id  # the largest theme

    pending = [i for i in items if "alert/KubePodNotReady should not be at or above" in i.key]
    assert len(pending) >= 5
    assert len({home[i.key].id for i in pending}) == 1


# --- helpers ----------------------------------------------------------------------------------


def _similar(a: str, b: str, threshold: float) -> bool:
    longest = max(len(a), len(b))
    return Levenshtein.distance(a, b) <= int((1.0 - threshold) * longest + 1e-9)


def _pairwise(truth: list[int], found: list[int]) -> tuple[float, float, float]:
    def pairs(counts: Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = pairs(Counter(zip(truth, found, strict=True)))
    precision = both / max(1, pairs(Counter(found)))
    recall = both / max(1, pairs(Counter(truth)))
    return precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = _words(
    "connection refused timeout certificate webhook admission quota volume attach lease "
    "leader election kubelet pressure readiness probe endpoint ingress controller route dns "
    "etcd raft watch stream evicted unschedulable taint rollout revision secret token signer "
    "handshake proxy egress firewall degraded upgrade payload registry manifest digest layer "
    "storage bucket snapshot operator catalog subscription schema finalizer namespace"
)
_TEMPLATES = (
    'fail [github.com/openshift/origin/test/extended/{a}/{b}.go:{n}]: {d}: route "{name}" in '
    "namespace e2e-test-{a}-{s} was not admitted within {m}m{n}s",
    "fail [github.com/openshift/origin/test/extended/{a}/{b}.go:{n}]: {d}\nExpected\n"
    "    <int>: {n}\nto equal\n    <int>: 0",
    "Cluster operator {a} Degraded is True with {b}: {d} {name}-{s}{s} in namespace "
    "ci-op-{s}abc on node ip-10-0-{n}-{n}.ec2.internal",
    "{n} {d} contained in kubelet logs.\n\nMay 14 12:{n}:33.1 - {n}s E node/ip-10-0-{n}-{n}"
    " reason/{b} {a}",
    'level=error msg=Error: {d}: api error {b}: {name}\nlevel=fatal msg=failed to fetch "{a}"',
    "error running oc get {a}/{name} -n e2e-test-{b}-{s}: exit status 1: Error from server "
    "({b}): {d}",
)


def _planted(rng: random.Random, count: int) -> tuple[list[str], list[int]]:
    """Failure texts from planted groups: volatile parts, names and a few word edits vary."""
    groups = []
    for _ in range(max(2, count // 12)):
        groups.append(
            (
                rng.choice(_TEMPLATES),
                rng.choice(_WORDS),
                "_".join(rng.sample(_WORDS, 2)),
                " ".join(rng.sample(_WORDS, rng.randint(5, 8))),
                rng.sample(["frontend", "web", "nginx", "api", "cache"], 2),
            )
        )
    texts, truth = [], []
    for _ in range(count):
        gid = min(int(rng.paretovariate(0.9)) - 1, len(groups) - 1)
        template, a, b, detail, names = groups[gid]
        text = template.format(
            a=a,
            b=b,
            d=detail,
            name=rng.choice(names),
            n=rng.randint(1, 999),
            m=rng.randint(1, 9),
            s="".join(rng.choice(SAFE) for _ in range(5)),
        )
        words = text.split(" ")
        if len(words) >= 14 and rng.random() < 0.2:
            words[rng.randrange(len(words))] = rng.choice(_WORDS)
            text = " ".join(words)
        texts.append(text)
        truth.append(gid)
    for index in range(count // 50):  # a few unrelated one-offs
        texts.append("".join(rng.choice(string.ascii_lowercase + " ") for _ in range(60)))
        truth.append(-1 - index)
    return texts, truth
