"""Every command started against a database it cannot use: one clear line, exit 1, quickly.

Real `sippy` processes; PostgreSQL refused (nothing listening), PostgreSQL blackholed (a
proxy that accepts and never answers) and an SQLite file that cannot be created. The
commands of one case run side by side, so the module stays fast. (Every command opens the
database through the same `cli._engine`; these cover its callers of each kind.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sippy.db.engine import CONNECT_TIMEOUT
from tests.fakes.tcp_proxy import TcpProxy
from tests.helpers import free_port

PASSWORD = "s3cret-pw"
COMMANDS = [
    ["load", "{samples}"],
    ["serve", "--listen", "127.0.0.1:{port}", "--listen-metrics", ""],
    ["show", "1"],
    ["summarize", "1"],
    ["db", "upgrade"],
]


def run_all(
    commands: list[list[str]], dsn: str | list[str], tmp_path: Path
) -> list[tuple[list[str], float, subprocess.CompletedProcess]]:
    """Start every command at once with `--database-dsn` (one DSN, or one per command);
    (args, seconds, result) each."""
    (tmp_path / "samples").mkdir(exist_ok=True)
    env = {**os.environ, "COLUMNS": "60"}  # narrow: a wrapped message would show
    dsns = dsn if isinstance(dsn, list) else [dsn] * len(commands)
    started = []
    for command, each_dsn in zip(commands, dsns, strict=True):
        args = [a.format(samples=tmp_path / "samples", port=free_port()) for a in command]
        proc = subprocess.Popen(
            [sys.executable, "-m", "sippy", *args, "--database-dsn", each_dsn],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append((args, time.monotonic(), proc))

    def finish(args: list[str], began: float, proc: subprocess.Popen) -> tuple:
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            stderr += "\n(did not exit within 60 s: it hangs on the database)"
        done = subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
        return args, time.monotonic() - began, done

    with ThreadPoolExecutor(len(started)) as pool:  # each timed to its own exit
        return list(pool.map(lambda item: finish(*item), started))


def assert_one_clear_line(
    results: list[tuple[list[str], float, subprocess.CompletedProcess]],
    names: str,
    cause: str,
    within: float,
) -> None:
    for args, seconds, result in results:
        what = f"sippy {' '.join(args)}"
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1, f"{what}: exit {result.returncode}"
        assert len(lines) == 1, f"{what}: not one line:\n{result.stderr}"
        line = lines[0]
        assert line.startswith("error: cannot use database "), f"{what}: {line}"
        assert names in line, f"{what} does not name the database: {line}"
        assert cause.lower() in line.lower(), f"{what} does not say why: {line}"
        assert "Traceback" not in result.stderr and "(psycopg" not in line, line
        assert PASSWORD not in result.stderr + result.stdout, f"{what} leaks the password"
        assert seconds < within, f"{what} took {seconds:.1f}s"


def test_postgresql_refusing_connections(tmp_path):
    port = free_port()  # nothing listens there
    dsn = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/sippy"
    results = run_all(COMMANDS, dsn, tmp_path)
    assert_one_clear_line(results, f"postgres:***@127.0.0.1:{port}/sippy", "refused", within=30)


def test_postgresql_that_never_answers_times_out(tmp_path):
    """A server that accepts but never speaks: the connect timeout (default or DSN) ends it."""
    with TcpProxy("127.0.0.1", 5432) as proxy:  # the target never sees a byte
        proxy.cut("blackhole")
        dsn = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{proxy.port}/sippy"
        default, from_dsn = run_all(
            [["show", "1"], ["load", "{samples}"]], [dsn, f"{dsn}?connect_timeout=2"], tmp_path
        )
        assert proxy.accepted >= 2  # both did reach the (silent) server
    where = f"127.0.0.1:{proxy.port}/sippy"
    assert_one_clear_line([default], where, "timeout", within=CONNECT_TIMEOUT + 15)
    assert_one_clear_line([from_dsn], where, "timeout", within=2 + 15)
    assert default[1] >= CONNECT_TIMEOUT - 0.1  # waited for the server, as long as promised
    assert default[1] - from_dsn[1] > 1.5  # the DSN's 2 s beat the default 5 s (started together)


def test_sqlite_file_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    path = blocker / "sippy.db"
    results = run_all(COMMANDS[:3], f"sqlite:///{path}", tmp_path)
    assert_one_clear_line(results, str(path), "unable to open database file", within=30)
    assert not path.exists()
