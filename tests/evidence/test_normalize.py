"""The noise-free key: copies of one error that differ only in volatile parts fold."""

from __future__ import annotations

import pytest

from sippy.evidence.normalize import normalize_line


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("INFO[2026-05-13T19:45:38Z] Step x ran 45m12s.", "<ts> Step x ran <dur>."),
        ("I0514 08:51:33.123456 27 memcache.go:265] boom", "<ts> <n> memcache.go:<n>] boom"),
        ("at 10.0.128.44:6443 and [fd00::1:2]:443", "at <ip> and <ip>"),
        ("uid 123e4567-e89b-12d3-a456-426614174000", "uid <uuid>"),
        ("image sha256:" + "a" * 64, "image <hex>"),
        ("pod router-default-7d9f8b6c5d-x2x9z crashed", "pod router-default-<pod> crashed"),
        ("namespace ci-op-x2k4j9zq/e2e", "namespace <ns>/e2e"),
        ("node ip-10-0-1-2.ec2.internal NotReady", "node <node> NotReady"),
        ("took 1h2m3.5s and 45ms", "took <dur> and <dur>"),
        ("  many    spaces\t here ", "many spaces here"),
    ],
)
def test_placeholders(line, key):
    assert normalize_line(line) == key


def test_copies_differing_only_in_noise_are_equal():
    a = 'time="2026-05-13T19:45:38Z" level=error msg="pod etcd-7d9f8b6c5d-x2x9z at 10.0.1.2 failed"'
    b = 'time="2026-05-14T01:02:03Z" level=error msg="pod etcd-5c4b3a2d1e-q8w7e at 10.0.3.4 failed"'
    assert normalize_line(a) == normalize_line(b)
    assert normalize_line(a) != normalize_line(a.replace("etcd", "dns"))


@pytest.mark.parametrize("text", ["", "\x00\x01", "9" * 100_000, "a-" * 50_000, None, 42])
def test_never_raises_and_stays_bounded(text):
    key = normalize_line(text)  # type: ignore[arg-type]
    assert isinstance(key, str) and len(key) <= 4000
