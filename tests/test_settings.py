"""Settings: flags over environment over defaults, validated once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sippy.settings import Settings, build_settings, parse_listen


def test_defaults(monkeypatch):
    monkeypatch.delenv("SIPPY_DATABASE_DSN", raising=False)
    settings = Settings()
    assert settings.database_dsn == "sqlite:///sippy.db"
    assert (settings.listen, settings.listen_metrics, settings.mode) == (":8080", ":2112", "ocp")


def test_environment_over_defaults_and_flags_over_environment(monkeypatch):
    monkeypatch.setenv("SIPPY_DATABASE_DSN", "postgresql://env@db/x")
    monkeypatch.setenv("SIPPY_LOG_LEVEL", "DEBUG")
    assert build_settings().database_dsn == "postgresql://env@db/x"
    assert build_settings().log_level == "debug"
    flagged = build_settings(database_dsn="sqlite:///flag.db", log_level=None)
    assert flagged.database_dsn == "sqlite:///flag.db"
    assert flagged.log_level == "debug"


def test_invalid_values_are_refused():
    with pytest.raises(ValidationError):
        Settings(mode="kubernetes")
    with pytest.raises(ValidationError):
        Settings(max_artifact_bytes=0)


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        (":8080", ("0.0.0.0", 8080)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
    ],
)
def test_parse_listen(listen, expected):
    assert parse_listen(listen) == expected


def test_parse_listen_rejects_garbage():
    with pytest.raises(ValueError, match="invalid listen address"):
        parse_listen("localhost")
