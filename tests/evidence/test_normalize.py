"""The noise-free key: copies of one message that differ only in volatile parts fold."""

from __future__ import annotations

import time

import pytest

from sippy.evidence.normalize import MAX_KEY_CHARS, LineNormalizer, normalize_line, split_timestamp


@pytest.mark.parametrize(
    ("line", "key"),
    [
        # timestamps
        ("2024-05-14T08:51:33.123Z boom", "<ts> boom"),
        ("at 2024-05-14 08:51:33.123 boom", "at <ts> boom"),
        ("2024-05-14 12:50:31.12 +0000 UTC m=+19.18 boom", "<ts> boom"),
        ("I0514 08:51:33.123456      27 memcache.go:265] boom", "I<ts> <n> memcache.go:<n>] boom"),
        ("INFO[2024-05-14T08:51:33Z] Running step x.", "INFO[<ts>] Running step x."),
        ("INFO[0123] Running step x.", "INFO[<ts>] Running step x."),
        (
            "\x1b[31mERRO\x1b[0m[2024-05-14T08:51:33Z] Some steps failed:",
            "ERRO[<ts>] Some steps failed:",
        ),
        ('time="2024-05-14T08:51:33Z" level=error msg="x"', 'time="<ts>" level=error msg="x"'),
        ('event="May 14 13:45:48.374 W clusteroperator/x"', 'event="<ts> W clusteroperator/x"'),
        ("[Fri Mar 27 04:56:34 UTC 2026] done", "[<ts>] done"),
        ("STEP: Creating a client @ 05/13/26 20:24:01.078", "STEP: Creating a client @ <ts>"),
        ("payload 4.20.0-0.nightly-2026-05-14-114051", "payload <n>-<n>.nightly-<ts>"),
        # durations, identifiers, addresses, generated names, numbers
        ("took 1h2m3.5s then 45ms (26.2s)", "took <dur> then <dur> (<dur>)"),
        ("uid 123e4567-e89b-12d3-a456-426614174000", "uid <uuid>"),
        ("image sha256:" + "a0" * 32, "image <hex>"),
        ("commit 8d7f53e and hash deadbeefcafe1234", "commit <hex> and hash <hex>"),
        ("dial tcp 10.0.128.44:6443: i/o timeout", "dial tcp <ip>: i/o timeout"),
        ("[fd00::1:2]:443 and 2001:db8::ff00:42:8329", "<ip> and <ip>"),
        ("std::string stays", "std::string stays"),
        ("pod router-default-7d9f8b6c5d-x2x9z crashed", "pod router-default-<pod> crashed"),
        ("pod etcd-guard-q8w7z crashed", "pod etcd-guard-<pod> crashed"),
        ("pods abc-5c4b3a2d1e-q8w7e, web-abc12, hc-prkgv", "pods abc-<pod>, web-<pod>, hc-<pod>"),
        (
            "openshift-tests and e2e-aws-sdn-multi stay",
            "openshift-tests and e2e-aws-sdn-multi stay",
        ),
        ("namespace ci-op-x2k4j9zq/e2e", "namespace <ns>/e2e"),
        ("ns e2e-test-router-scoped-x7kq2 gone", "ns <ns> gone"),
        ("node ip-10-0-1-2.ec2.internal NotReady", "node <node> NotReady"),
        ("machine ci-op-ygcx2c3z-cae79-htjbh-master-0 failed", "machine <node> failed"),
        ("exit status 1 after 3 retries", "exit status <n> after <n> retries"),
        ("e2e-aws-ovn ipv4 k8s stay", "e2e-aws-ovn ipv4 k8s stay"),
        ("  many    spaces\t here ", "many spaces here"),
    ],
)
def test_placeholders(line, key):
    assert normalize_line(line) == key


def test_copies_differing_only_in_noise_are_equal():
    a = (
        'time="2026-05-13T19:45:38Z" level=error msg="pod etcd-7d9f8b6c5d-x2x9z on'
        ' ip-10-0-1-2.ec2.internal at 10.0.1.2:2379 failed after 3m2s"'
    )
    b = (
        'time="2026-05-14T01:02:03Z" level=error msg="pod etcd-5c4b3f2d9f-q8w7z on'
        ' ip-10-0-3-4.ec2.internal at 10.0.3.4:2379 failed after 45s"'
    )
    assert normalize_line(a) == normalize_line(b)
    assert normalize_line(a) != normalize_line(a.replace("etcd", "dns"))
    assert normalize_line(a) != normalize_line(a.replace("failed", "passed"))


def test_split_timestamp_gives_the_placeholder_and_the_rest():
    assert split_timestamp("W0514 08:51:33.1 x.go:1] y") == ("W<ts>", " x.go:1] y")
    assert split_timestamp("\x1b[36mINFO\x1b[0m[0001] x") == ("INFO[<ts>]", " x")
    assert split_timestamp("no timestamp here") == ("", "no timestamp here")


def test_the_memoising_normalizer_gives_the_same_keys():
    lines = [
        f"E0514 08:51:{i % 60:02d}.{i:06d}  {i % 7} memcache.go:265] err=dial 10.0.0.{i % 9}"
        for i in range(300)
    ] + [f"INFO[2026-05-14T08:51:{i % 60:02d}Z] Step s{i % 3} failed" for i in range(300)]
    normalizer = LineNormalizer(max_chars=2000)  # small: the memo is cleared on the way
    assert [normalizer(line) for line in lines] == [normalize_line(line) for line in lines]


@pytest.mark.parametrize(
    "text",
    ["", "\x00\x01\x1b[", "9" * 100_000, "a-" * 50_000, "1:" * 50_000, ":" * 50_000, "\udcff"],
)
def test_any_string_is_handled_quickly_and_the_key_is_bounded(text):
    started = time.perf_counter()
    key = normalize_line(text)
    assert time.perf_counter() - started < 0.5
    assert isinstance(key, str) and len(key) <= MAX_KEY_CHARS


def test_non_strings_give_an_empty_key():
    assert normalize_line(None) == ""  # type: ignore[arg-type]
    assert normalize_line(b"error") == ""  # type: ignore[arg-type]


def test_deterministic():
    line = "I0514 08:51:33.1 1 x.go:2] pod a-7d9f8b6c5d-x2x9z 10.0.0.1 sha256:" + "f" * 64
    assert len({normalize_line(line) for _ in range(5)}) == 1
