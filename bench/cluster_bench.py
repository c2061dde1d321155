"""Failure clustering: ours against the kubernetes triage algorithm on the same planted texts.

N failure texts are generated from planted groups (OpenShift-like templates: origin `fail [...]`
verdicts, Gomega, disruption, installer `level=error`, ci-operator steps, operators, alerts,
go test, panics...). Members of a group differ in numbers, names, IPs, durations, pod
suffixes, namespaces, UUIDs, timestamps, the number of per-instance lines listed after the
headline, a few word-level edits and, for 3%, a log tail. Group sizes have a long tail,
singletons included. All algorithms run in this process on the same texts; reported: time,
clusters, pairwise precision/recall/F1 against the planted groups (from contingency counts),
and peak traced Python memory (a separate run under tracemalloc, which slows code down).

The triage baseline follows kubernetes/test-infra `triage/summarize` (Go, HEAD 9cd5798,
2026-08): its `normalize` (dates -> TIME, noisy tokens alpha-renamed UNIQn, map[] sorted,
10,000-char cap), per-test local clustering then global clustering (most failures first),
`findMatch` with the 64-bucket CRC32 4-gram histogram lower bound, limit = 10% of the mean
length, candidates sorted by that bound, match when the bounded Levenshtein distance is under
the limit. Two implementations:

* `triage`: the Go semantics (at most 8 exact checks per worker, 2 workers on this box) with
  the bound vectorised in numpy: the algorithm at compiled speed, the strong baseline;
* `triage-py`: `find_match` as the Python `summarize.py` wrote it (a loop over every key,
  no cap), run on a subset since it is quadratic.

Both use rapidfuzz for the bounded distance (same results as Berghel-Roach with a limit).
Not ported: time-based bail-outs (they drop failures) and seeding from a previous run.

    python bench/cluster_bench.py [--n 100000] [--seed 1] [--triage-n N] [--literal-n 10000]
"""

from __future__ import annotations

import argparse
import random
import re
import string
import sys
import time
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from sippy.analysis.clustering import ClusterItem, cluster_failures, failure_key


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# --- planted failure texts ----------------------------------------------------------------

WORDS = _words(
    "connection refused reset timeout deadline exceeded context canceled certificate signed "
    "unknown authority webhook admission denied quota limit volume attach mount detach lease "
    "leader election lost node kubelet pressure memory disk readiness probe liveness endpoint "
    "service ingress controller route dns resolve lookup host etcd raft apply slow request "
    "watch closed stream terminated evicted preempted scheduled unschedulable taint toleration "
    "affinity replica rollout revision config secret token expired rotated signer bundle "
    "serving client server handshake tls verify chain proxy egress firewall port socket "
    "listener backend frontend health check degraded progressing available upgrade payload "
    "image pull registry manifest digest layer blob storage bucket snapshot restore backup "
    "operator bundle catalog subscription install plan csv crd schema conversion validation "
    "mutation finalizer garbage collector namespace terminating stuck pending running crashed "
    "restarted oom killed throttled cpu quota exceeded network policy ovn bridge tunnel geneve "
    "mtu packet dropped arp neighbor bgp peer metallb load balancer vip keepalived haproxy "
    "router shard canary console oauth login identity provider group sync ldap audit log "
    "rotation journal sysctl kernel module driver csi provisioner claim bound released "
    "reclaim policy zone region instance machine machineset autoscaler scale nodepool "
    "hypershift hosted control plane konnectivity agent tunnel worker master infra bootstrap "
    "ignition config render mcd drain cordon reboot pool updated degraded"
)
AREAS = _words(
    "router builds images apiserver networking storage operators cli auth security "
    "prometheus etcd node machines olm templates deployments jobs registry dns ingress "
    "imageapis quota project oauth console csi cvo"
)
OPERATORS = _words(
    "authentication console dns etcd image-registry ingress kube-apiserver "
    "kube-controller-manager kube-scheduler machine-config monitoring network "
    "openshift-apiserver openshift-controller-manager storage cloud-credential "
    "cluster-autoscaler insights marketplace node-tuning service-ca olm"
)
NAMES = _words(
    "frontend backend web hello-openshift nginx router-test busybox pause agnhost "
    "httpd redis mysql postgres ruby-ex nodejs-ex python-ex php-app registry-check "
    "sample-app test-pod client server probe cache queue worker api gateway proxy"
)
KINDS = _words("pods deployments routes services configmaps secrets builds imagestreams jobs")
REASONS = _words("NotFound Forbidden Conflict AlreadyExists Timeout BadRequest Invalid")
CONNS = ("new", "reused")
SAFE = "bcdfghjklmnpqrstvwxz2456789"

# Every template puts its group-specific part ({detail}, {area}, {file}...) in the first
# paragraph: that is what any text clustering can see. Slots in [] vary per item.
TEMPLATES: dict[str, str] = {
    "route": "fail [github.com/openshift/origin/test/extended/{area}/{file}.go:[line]]: "
    '{detail}: route "[name]" in namespace [e2ens] was not admitted within [dur]',
    "equal": "fail [github.com/openshift/origin/test/extended/{area}/{file}.go:[line]]: "
    "{detail}\nExpected\n    <int>: [n]\nto equal\n    <int>: 0",
    "unexpected": "fail [github.com/openshift/origin/test/extended/{area}/{file}.go:[line]]: "
    'Unexpected error:\n    <*errors.StatusError | [hex]>: \n    {kind} "[name]" {detail}\n'
    '    {{\n        ErrStatus: {{ Status: "Failure", Reason: "{reason}", Code: [n] }},\n'
    "    }}\noccurred",
    "disruption": "backend-disruption-name/{op}-{conn}-connections was unreachable during "
    "disruption testing for at least [dur] of [dur] (maxAllowed=[durms]): {detail}\n\n[events]",
    "install": "[infolines]level=error msg=Error: {detail}: operation error EC2: RunInstances, "
    "https response error StatusCode: 400, RequestID: [uuid], api error {reason}: [name]\n"
    "level=error msg=  with module.{area}.aws_instance.output[[n]],\nlevel=fatal msg=failed to "
    'fetch Cluster: failed to generate asset "Cluster": failure applying terraform for "{op}" '
    "stage: failed to create cluster",
    "step": "Step e2e-{area}-{op}-{file} failed after [dur].\n"
    '"e2e-{area}" pod "e2e-{area}-{op}-{file}" failed: the pod [ns]/e2e-{area}-{op}-{file} '
    "failed after [dur] (failed containers: test): {detail}\n\nContainer test exited with code "
    "[n], reason Error\n---\n[events]",
    "operator": "Cluster operator {op} Degraded is True with {reason}: {detail} "
    "[name]-[pod] in namespace [ns] on node [node]",
    "alert": "{alert} was at or above {state} for at least [dur] on platformidentification."
    'JobType{{Release:"4.[n]", Platform:"{area}", Network:"ovn", Topology:"ha"}} '
    "(maxAllowed=[dur]): {detail}:\n\n[events]",
    "gotest": "=== RUN   Test{alert}\n    {file}.go:[line]: Successfully created hostedcluster "
    "[e2ens]/[name] in [dur]\n    {file}.go:[line]: Failed to {detail}: context deadline "
    "exceeded\n--- FAIL: Test{alert} ([durms])",
    "panic": 'Observed a panic: "{detail}" (runtime error: invalid memory address or nil '
    "pointer dereference)\ngoroutine [n] [running]:\ngithub.com/openshift/{op}/pkg/{area}."
    "({file}).Sync(...)\n\t/go/src/github.com/openshift/{op}/pkg/{area}/{file}.go:[line] +[hex]",
    "kubelet": "[n] {detail} contained in kubelet logs.\n\n[events]",
    "sandbox": "fail [github.com/openshift/origin/test/extended/{area}/{file}.go:[line]]: "
    "failed to create pod sandbox for pod [name]-[pod] in namespace [e2ens]: rpc error: code = "
    "Unknown desc = failed to create pod network sandbox: error adding pod to CNI network "
    '"multus-cni-network": {detail}',
    "oc": "error running oc {verb} {kind}/[name] -n [e2ens]: exit status 1: Error from server "
    "({reason}): {detail}",
    "ginkgo": "[FAILED] {detail}: {kind} [name] in [e2ens] did not become ready within [dur]\n"
    "In [It] at: /go/src/github.com/openshift/origin/test/extended/{area}/{file}.go:[line] @ [ts]",
    "pull": 'Back-off pulling image "quay.io/openshift/{op}@sha256:[hex64]": ErrImagePull: '
    "{detail}",
    "etcd": "etcd member [node] is unhealthy: {detail}: got unhealthy result from "
    "https://[ipport] (took [durms])",
}
TEMPLATE_NAMES = sorted(TEMPLATES)


@dataclass(slots=True)
class Group:
    gid: int
    family: str
    fixed: dict[str, str]
    names: list[str]
    namespaces: list[str]
    tests: list[str]
    base: str = ""
    texts: list[str] = field(default_factory=list)


def _token(rng: random.Random, alphabet: str, size: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(size))


def _ts(rng: random.Random) -> str:
    return (
        f"2026-05-{rng.randint(10, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
        f"{rng.randint(0, 59):02d}Z"
    )


def _event(rng: random.Random, group: Group) -> str:
    """One per-instance detail line, as monitor tests list after a blank line: the message
    is the group's, the namespace one of a few, time, pod, node and duration vary."""
    return (
        f"May {rng.randint(10, 28)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
        f"{rng.randint(0, 59):02d}.{rng.randint(0, 999):03d} - {rng.randint(1, 600)}s   "
        f"E namespace/{rng.choice(group.namespaces)} pod/{rng.choice(group.names)}-"
        f"{_token(rng, SAFE, 5)} node/ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)}"
        f".ec2.internal reason/{group.fixed['reason']} {group.fixed['event']}"
    )


def _slot(rng: random.Random, kind: str, group: Group) -> str:
    """A value for a per-item slot."""
    if kind == "line":
        return str(rng.randint(20, 1500))
    if kind == "n":
        return str(rng.randint(0, 300))
    if kind == "dur":
        return rng.choice((f"{rng.randint(1, 59)}m{rng.randint(0, 59)}s", f"{rng.randint(1, 90)}s"))
    if kind == "durms":
        return f"{rng.randint(0, 90)}.{rng.randint(0, 999):03d}s"
    if kind == "name":
        return rng.choice(group.names)
    if kind == "e2ens":
        return f"e2e-test-{group.fixed['area']}-{_token(rng, SAFE, 5)}"
    if kind == "ns":
        return f"ci-op-{_token(rng, string.ascii_lowercase + string.digits, 8)}"
    if kind == "pod":
        return f"{_token(rng, SAFE, 9)}-{_token(rng, SAFE, 5)}"
    if kind == "node":
        return f"ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)}.us-west-1.compute.internal"
    if kind == "hex":
        return f"0xc{_token(rng, '0123456789abcdef', 9)}"
    if kind == "hex64":
        return _token(rng, "0123456789abcdef", 64)
    if kind == "uuid":
        h = _token(rng, "0123456789abcdef", 32)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if kind == "ipport":
        return f"10.0.{rng.randint(0, 255)}.{rng.randint(0, 255)}:{rng.choice((2379, 6443))}"
    if kind == "ts":
        return f"05/{rng.randint(10, 28)}/26 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00"
    if kind == "events":
        return "\n".join(_event(rng, group) for _ in range(rng.randint(1, 4)))
    if kind == "infolines":
        return "".join(
            f'time="{_ts(rng)}" level=info msg="Waiting up to {rng.randint(20, 45)}m0s for '
            f'{rng.choice(WORDS)} {rng.choice(WORDS)}"\n'
            for _ in range(rng.randint(0, 4))
        )
    raise KeyError(kind)


_SLOT = re.compile(r"\[(\w+)\]")


def render(template: str, rng: random.Random | None, group: Group) -> str:
    """The template with fixed fields filled; per-item slots filled (or, rng None, marked)."""
    text = template.format(**group.fixed)

    def fill(match: re.Match[str]) -> str:
        kind = match.group(1)
        if kind not in _SLOT_KINDS:
            return match.group(0)
        return f"<{kind}>" if rng is None else _slot(rng, kind, group)

    return _SLOT.sub(fill, text)


_SLOT_KINDS = frozenset(
    _words("line n dur durms name e2ens ns pod node hex hex64 uuid ipport ts events infolines")
)


def _edit(rng: random.Random, text: str) -> str:
    """One word-level edit (substitute, delete or insert a word) in the first 40 words.

    Only in first lines of 12+ words: on a shorter line one word is over 10% of the text,
    which no edit-distance clustering at triage's threshold should (or does) bridge.
    """
    head, sep, rest = text.partition("\n")
    words = head.split(" ")
    if len(words) < 12:
        return text
    at = rng.randrange(min(len(words), 40))
    op = rng.random()
    if op < 0.5:
        words[at] = rng.choice(WORDS)
    elif op < 0.75:
        del words[at]
    else:
        words.insert(at, rng.choice(WORDS))
    return " ".join(words) + sep + rest


def _tail(rng: random.Random) -> str:
    """A log tail as appended to some failures (a few KB of klog lines)."""
    lines = []
    for _ in range(rng.randint(20, 120)):
        lines.append(
            f"I05{rng.randint(10, 28)} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:"
            f"{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d} {rng.randint(1, 99)} "
            f"{rng.choice(WORDS)}.go:{rng.randint(10, 900)}] {' '.join(rng.sample(WORDS, 6))}"
        )
    return "\n".join(lines)


def _group_sizes(rng: random.Random, n: int) -> list[int]:
    """Long-tailed sizes summing to n: Pareto(0.8), about 45% singletons."""
    sizes: list[int] = []
    left = n
    cap = max(1, n // 25)
    while left > 0:
        size = min(left, cap, int(rng.paretovariate(0.8)))
        sizes.append(size)
        left -= size
    return sizes


def _new_group(rng: random.Random, gid: int, tests: Sequence[str]) -> Group:
    family = rng.choice(TEMPLATE_NAMES)
    fixed = {
        "area": rng.choice(AREAS),
        "file": "_".join(rng.sample(WORDS, 2)),
        "op": rng.choice(OPERATORS),
        "conn": rng.choice(CONNS),
        "kind": rng.choice(KINDS),
        "reason": rng.choice(REASONS),
        "verb": rng.choice(("get", "create", "delete", "patch", "wait", "rollout")),
        "alert": "".join(w.capitalize() for w in rng.sample(WORDS, 2)),
        "state": rng.choice(("pending", "firing")),
        "detail": " ".join(rng.sample(WORDS, rng.randint(4, 8))),
        "event": " ".join(rng.sample(WORDS, 3)),
    }
    names = rng.sample(NAMES, rng.randint(1, 3))
    namespaces = [f"openshift-{op}" for op in rng.sample(OPERATORS, rng.randint(1, 3))]
    return Group(
        gid, family, fixed, names, namespaces, list(rng.sample(list(tests), rng.randint(1, 2)))
    )


def generate(n: int, seed: int) -> tuple[list[ClusterItem], list[str], list[int]]:
    """(items, test name per item, planted group per item), shuffled."""
    rng = random.Random(seed)
    sizes = _group_sizes(rng, n)
    tests = [
        f"[sig-{rng.choice(AREAS)}] {' '.join(rng.sample(WORDS, 5))} "
        "[Suite:openshift/conformance/parallel]"
        for _ in range(max(1, len(sizes) // 3))
    ]
    bases: dict[str, list[str]] = {name: [] for name in TEMPLATE_NAMES}
    rows: list[tuple[str, str, int]] = []
    for gid, size in enumerate(sizes):
        # Planted groups must be told apart by their text: reject a group whose canonical
        # text is 75%+ similar to one of its family (word edits alone must not bridge them).
        for _attempt in range(50):
            group = _new_group(rng, gid, tests)
            base = render(TEMPLATES[group.family], None, group)
            similar = process.extractOne(
                base,
                bases[group.family],
                scorer=Levenshtein.normalized_similarity,
                score_cutoff=0.75,
            )
            if similar is None:
                break
        bases[group.family].append(base)
        for _ in range(size):
            text = render(TEMPLATES[group.family], rng, group)
            roll = rng.random()
            if roll < 0.20:
                text = _edit(rng, text)
            elif roll < 0.25:
                text = _edit(rng, _edit(rng, text))
            if rng.random() < 0.03:
                text = f"{text}\n\n{_tail(rng)}"
            rows.append((text, rng.choice(group.tests), gid))
    rng.shuffle(rows)
    items = [ClusterItem(f"run-{i:07d}|{test}", text) for i, (text, test, _g) in enumerate(rows)]
    return items, [test for _t, test, _g in rows], [gid for _t, _test, gid in rows]


# --- kubernetes triage (summarize/text.go, cluster.go) ------------------------------------

_TRIAGE_DATE = re.compile(
    r"[A-Z][a-z]{2}, \d+ \w+ 2\d{3} [\d.-: ]*([-+]\d+)?|"
    r"\w{3}\s+\d{1,2} \d+:\d+:\d+(\.\d+)?|"
    r"(\d{4}-\d\d-\d\d.|.\d{4} )\d\d:\d\d:\d\d(.\d+)?|"
    r"\d{1,2}/\d{1,2}/\d{2,4} \d{1,2}:\d{2}:\d{2}(\.\d+)?",
    re.ASCII,
)
_TRIAGE_ORDINAL = re.compile(
    r"0x[0-9a-fA-F]+"
    r"|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(:\d+)?"
    r"|[0-9a-fA-F]{8}-\S{4}-\S{4}-\S{4}-\S{12}(-\d+)?"
    r"|[0-9a-f]{12,32}"
    r"|(minion-group-|default-pool-)[-0-9a-z]{4,}"
    r"|nodes-[-a-z0-9]+-[a-z0-9]{4,}"
    r"|i-[0-9a-f]{10,}"
    r"|kind-worker\d*"
    r"|pod-[a-z-]+-\d+-\d+"
    r"|\.go:\d+"
    r'|-[a-z0-9]{4,5}(?:"|$|\s|/)'
    r"|localhost:\d{4,5}"
    r'|:\d{5}(?:\s|$|"|]|/)'
    r"|(cluster|logger|Server #)_?\d+"
    r"|goroutine \d+"
    r"|\d+\.\d{3}s",
    re.ASCII,
)
_TRIAGE_MAP = re.compile(r"map\[([^][]*)\]")
TRIAGE_MAX_TEXT = 10_000
TRIAGE_CHECKS = 8 * 2  # maxPreciseChecksPerWorker x GOMAXPROCS on this 2-core machine
_TRUNCATED = "\n...[truncated]...\n"


def triage_normalize(text: str) -> str:
    """`normalize` of triage/summarize/text.go."""
    text = _TRIAGE_DATE.sub("TIME", text)
    if "map[" in text:
        text = _TRIAGE_MAP.sub(lambda m: f"map[{' '.join(sorted(m.group(1).split(' ')))}]", text)
    seen: dict[str, str] = {}

    def alpha(match: re.Match[str]) -> str:
        token = match.group(0)
        if token not in seen:
            seen[token] = f"UNIQ{len(seen) + 1}"
        return seen[token]

    text = _TRIAGE_ORDINAL.sub(alpha, text)
    if len(text) > TRIAGE_MAX_TEXT:
        lines = text.split("\n")
        text = "\n".join(line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1])
    if len(text) > TRIAGE_MAX_TEXT:
        half = TRIAGE_MAX_TEXT // 2
        text = text[:half] + _TRUNCATED + text[-half:]
    return text


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[i] = c
    return table


_CRC = _crc_table()


def ngram_counts(text: str) -> np.ndarray:
    """`makeNgramCounts`: CRC32 of every 4-byte window (but the last), into 64 buckets."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    windows = len(data) - 4  # Go: for x := 0; x < len(s)-3 ... (skips the last window)
    if windows <= 0:
        return np.zeros(64, dtype=np.int32)
    crc = np.full(windows, 0xFFFFFFFF, dtype=np.uint32)
    for offset in range(4):
        byte = data[offset : offset + windows].astype(np.uint32)
        crc = _CRC[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    return np.bincount(crc & 63, minlength=64).astype(np.int32)


class TriageKeys:
    """Cluster keys with their histograms in one array, for `findMatch`."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.hist = np.zeros((16, 64), dtype=np.int32)
        self.lengths = np.zeros(16, dtype=np.int64)

    def add(self, key: str, hist: np.ndarray) -> None:
        if len(self.keys) == len(self.hist):
            self.hist = np.concatenate([self.hist, np.zeros_like(self.hist)])
            self.lengths = np.concatenate([self.lengths, np.zeros_like(self.lengths)])
        self.hist[len(self.keys)] = hist
        self.lengths[len(self.keys)] = len(key)
        self.keys.append(key)

    def find_match(self, text: str, hist: np.ndarray) -> str | None:
        """`findMatch`: sort by the n-gram bound, exact-check up to TRIAGE_CHECKS survivors."""
        count = len(self.keys)
        if not count:
            return None
        bound = np.abs(self.hist[:count] - hist).sum(axis=1) // 4
        order = np.argsort(bound, kind="stable")
        limit = ((len(text) + self.lengths[:count]) / 2.0 * 0.10).astype(np.int64)
        # Exact matches never get here, so `limit <= 1 and key != text` drops all limit <= 1.
        ok = (bound <= limit) & (limit > 1)
        for index in order[ok[order]][:TRIAGE_CHECKS]:
            key, cap = self.keys[index], int(limit[index])
            if Levenshtein.distance(text, key, score_cutoff=cap) < cap:
                return key
        return None


class TriageKeysLiteral:
    """`find_match` as triage/summarize.py wrote it: a Python loop over every key, sorted by
    the n-gram bound, no cap on precise checks (the cap came with the Go port in 2026)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.memo: dict[str, list[int]] = {}

    def counts(self, text: str) -> list[int]:
        found = self.memo.get(text)
        if found is None:
            found = [0] * 64
            for x in range(len(text) - 3):
                found[zlib.crc32(text[x : x + 4].encode("utf8")) & 63] += 1
            self.memo[text] = found
        return found

    def add(self, key: str, _hist: object) -> None:
        self.keys.append(key)

    def find_match(self, text: str, _hist: object) -> str | None:
        mine = self.counts(text)
        bounds = (
            (sum(abs(x - y) for x, y in zip(mine, self.counts(o), strict=True)) // 4, o)
            for o in self.keys
        )
        for bound, other in sorted(bounds):
            limit = int((len(text) + len(other)) / 2.0 * 0.10)
            if bound > limit:
                continue
            if limit <= 1 and other != text:
                continue
            if Levenshtein.distance(text, other, score_cutoff=limit) < limit:
                return other
        return None


def triage_cluster(
    items: Sequence[ClusterItem], tests: Sequence[str], *, literal: bool = False
) -> list[int]:
    """Cluster number per item, by triage's local (per test) then global pass."""
    memo: dict[str, np.ndarray] = {}

    def hist(text: str) -> np.ndarray | None:
        if literal:
            return None
        found = memo.get(text)
        if found is None:
            found = memo[text] = ngram_counts(text)
        return found

    def new_keys() -> TriageKeys | TriageKeysLiteral:
        return TriageKeysLiteral() if literal else TriageKeys()

    by_test: dict[str, list[int]] = {}
    for index, test in enumerate(tests):
        by_test.setdefault(test, []).append(index)
    local: dict[str, dict[str, list[int]]] = {}
    for test, members in sorted(by_test.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        clusters: dict[str, list[int]] = {}
        keys = new_keys()
        for index in sorted(members, key=lambda i: items[i].key):
            norm = triage_normalize(items[index].text)
            if norm in clusters:
                clusters[norm].append(index)
                continue
            h = hist(norm)
            other = keys.find_match(norm, h)
            if other is not None:
                clusters[other].append(index)
            else:
                clusters[norm] = [index]
                keys.add(norm, h)
        local[test] = clusters
    global_clusters: dict[str, list[int]] = {}
    keys = new_keys()

    def total(kv: tuple[str, dict[str, list[int]]]) -> tuple[int, str]:
        return -sum(len(v) for v in kv[1].values()), kv[0]

    for _test, clusters in sorted(local.items(), key=total):
        for key, members in sorted(clusters.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            if key in global_clusters:
                global_clusters[key].extend(members)
                continue
            h = hist(key)
            other = keys.find_match(key, h)
            if other is not None:
                global_clusters[other].extend(members)
            else:
                global_clusters[key] = list(members)
                keys.add(key, h)
    labels = [0] * len(items)
    for number, members in enumerate(global_clusters.values()):
        for index in members:
            labels[index] = number
    return labels


# --- measuring --------------------------------------------------------------------------------


def ours_labels(items: Sequence[ClusterItem]) -> list[int]:
    position = {item.key: i for i, item in enumerate(items)}
    labels = [0] * len(items)
    for number, cluster in enumerate(cluster_failures(items)):
        for key in cluster.keys:
            labels[position[key]] = number
    return labels


def pairwise(truth: Sequence[int], found: Sequence[int]) -> tuple[float, float, float]:
    """Pairwise precision, recall, F1 from contingency counts (no pair enumeration)."""

    def pairs(counts: Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = pairs(Counter(zip(truth, found, strict=True)))
    planted, predicted = pairs(Counter(truth)), pairs(Counter(found))
    precision = both / predicted if predicted else 1.0
    recall = both / planted if planted else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass(slots=True)
class Result:
    name: str
    n: int
    seconds: float
    clusters: int
    precision: float
    recall: float
    f1: float
    peak_mb: float | None = None

    def line(self) -> str:
        peak = f"{self.peak_mb:8.1f} MB" if self.peak_mb is not None else "   (not run)"
        return (
            f"{self.name:<9} {self.n:>7} texts {self.seconds:9.2f} s {self.clusters:>7} clusters  "
            f"P {self.precision:.4f}  R {self.recall:.4f}  F1 {self.f1:.4f}  peak {peak}"
        )


def run(
    name: str,
    algorithm: Callable[[], list[int]],
    truth: Sequence[int],
    *,
    memory: bool,
) -> Result:
    start = time.perf_counter()
    labels = algorithm()
    seconds = time.perf_counter() - start
    precision, recall, f1 = pairwise(truth, labels)
    result = Result(name, len(truth), seconds, len(set(labels)), precision, recall, f1)
    if memory:  # separately: tracemalloc slows allocation-heavy code down
        tracemalloc.start()
        tracemalloc.reset_peak()
        algorithm()
        result.peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="texts to cluster")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--triage-n", type=int, help="texts for triage (Go semantics; default: all, 0: skip)"
    )
    parser.add_argument(
        "--literal-n",
        type=int,
        default=10_000,
        help="texts for triage with summarize.py's pure-Python find_match (0: skip)",
    )
    parser.add_argument(
        "--triage-memory", action="store_true", help="also trace triage's memory (slow)"
    )
    parser.add_argument(
        "--triage-on-keys",
        action="store_true",
        help="ablation: triage's matching on our decisive keys instead of the full texts",
    )
    args = parser.parse_args(argv)

    start = time.perf_counter()
    items, tests, truth = generate(args.n, args.seed)
    groups = Counter(truth)
    print(
        f"generated {len(items)} texts in {time.perf_counter() - start:.1f} s: {len(groups)} "
        f"planted groups ({sum(1 for c in groups.values() if c == 1)} singletons, largest "
        f"{max(groups.values())}), {len(set(tests))} test names, mean "
        f"{sum(len(i.text) for i in items) / len(items):.0f} chars"
    )
    ours = run("ours", lambda: ours_labels(items), truth, memory=True)
    print(ours.line())
    summary = [f"cluster: {len(items)} texts in {ours.seconds:.1f} s (F1 {ours.f1:.3f})"]

    for name, wanted, literal in (
        ("triage", len(items) if args.triage_n is None else args.triage_n, False),
        ("triage-py", args.literal_n, True),
    ):
        subset = min(wanted, len(items))
        if subset <= 0:
            continue
        sub_items, sub_tests, sub_truth = items[:subset], tests[:subset], truth[:subset]
        kind = "summarize.py's pure-Python loop" if literal else "Go semantics, numpy bound"
        part = "all" if subset == len(items) else f"the first {subset}"
        print(f"-- {name} ({kind}) on {part} of the same texts:")
        baseline = run(
            name,
            lambda i=sub_items, t=sub_tests, lit=literal: triage_cluster(i, t, literal=lit),
            sub_truth,
            memory=args.triage_memory,
        )
        print(baseline.line())
        mine = ours
        if subset < len(items):
            mine = run("ours", lambda i=sub_items: ours_labels(i), sub_truth, memory=True)
            print(mine.line())
        ratio = baseline.seconds / mine.seconds if mine.seconds else float("inf")
        summary.append(
            f"{name} on {subset}: {baseline.seconds:.1f} s (F1 {baseline.f1:.3f}), ours on the "
            f"same: {mine.seconds:.2f} s (F1 {mine.f1:.3f}) -> {ratio:.1f}x"
        )
    print("; ".join(summary))
    if args.triage_on_keys:  # which part of the gain is the key, which the matching?
        start = time.perf_counter()
        keyed = [ClusterItem(item.key, failure_key(item.text)) for item in items]
        extract = time.perf_counter() - start
        result = run("triage", lambda: triage_cluster(keyed, tests), truth, memory=False)
        print(f"ablation: triage matching on our keys ({extract:.1f} s to extract them):")
        print(result.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
