"""Reading untrusted JSON: any field may be missing, null or of the wrong type."""

from __future__ import annotations

from typing import Any


def dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]..., or None as soon as a level is not a dict or lacks the key."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
