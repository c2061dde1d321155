"""The hashed lock files against pyproject.toml and against what is installed.

`python tools/lockcheck.py requirements/dev.txt` lists every installed distribution whose version
differs from the lock (what `make test-latest` would change); the tests use the functions to
check that the locks cover pyproject.toml's bounds and that the test venv is the lock.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def locked(lock: Path) -> dict[str, str]:
    """{canonical name: version} for every `name==version` line of a pip-compile lock."""
    pins = {}
    for line in lock.read_text().splitlines():
        if match := _PIN.match(line):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def unhashed(lock: Path) -> list[str]:
    """Pinned packages of a lock without a `--hash` (pip --require-hashes refuses them)."""
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
    return [e.split("==")[0] for e in entries if _PIN.match(e) and "--hash=sha256:" not in e]


def declared(extra: str | None = None) -> list[Requirement]:
    """pyproject.toml's dependencies, or those of one optional extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(spec) for spec in specs]


def outside_bounds(requirements: list[Requirement], pins: dict[str, str]) -> list[str]:
    """Requirements the lock misses or pins outside their bounds: the lock is stale."""
    problems = []
    for req in requirements:
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: not in the lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: locked {version}, pyproject asks {req.specifier}")
    return problems


def installed_differences(pins: dict[str, str]) -> list[str]:
    """Locked packages whose installed version differs (or that are not installed)."""
    differences = []
    for name, version in sorted(pins.items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = "not installed"
        if have != version:
            differences.append(f"{name}: lock {version}, installed {have}")
    return differences


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else ROOT / "requirements" / "dev.txt")
    differences = installed_differences(locked(lock))
    print(
        f"{len(differences)} installed version(s) differ from {lock}:"
        if differences
        else f"installed versions are those of {lock}"
    )
    for line in differences:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
