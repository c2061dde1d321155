"""The hashed locks in requirements/ are what a fresh machine installs: they must cover
pyproject.toml's bounds (a dependency added without `make lock` fails here, not on a user's
machine), hash every file, agree with each other, and be what this test run imports."""

from __future__ import annotations

import os

import pytest

from tools.lockcheck import ROOT, declared, installed_differences, locked, outside_bounds, unhashed

RUNTIME = ROOT / "requirements" / "runtime.txt"
DEV = ROOT / "requirements" / "dev.txt"


def test_the_locks_cover_every_declared_dependency_within_its_bounds():
    assert outside_bounds(declared(), locked(RUNTIME)) == []
    assert outside_bounds(declared() + declared("dev"), locked(DEV)) == []


def test_every_locked_file_is_hashed_and_the_build_backend_is_locked():
    for lock in (RUNTIME, DEV):
        assert unhashed(lock) == [], lock
        assert {"setuptools", "wheel"} <= set(locked(lock)), lock  # --no-build-isolation


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools():
    runtime, dev = locked(RUNTIME), locked(DEV)
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "pytest" in dev and "pytest" not in runtime


def test_no_machine_specific_index_or_path_leaks_into_a_lock():
    for lock in (RUNTIME, DEV):
        text = lock.read_text()
        assert "--index-url" not in text and "--find-links" not in text and "file://" not in text


@pytest.mark.skipif(
    os.environ.get("SIPPY_UNLOCKED") == "1", reason="make test-latest runs on unlocked versions"
)
def test_this_test_run_imports_exactly_the_locked_versions():
    assert installed_differences(locked(DEV)) == []
