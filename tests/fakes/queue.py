"""A task queue that only records what it is given: for measuring or checking discovery
without loading anything."""

from __future__ import annotations


class RecordingQueue:
    def __init__(self) -> None:
        self.loads: list[str] = []

    async def load(self, location: str) -> bool:
        self.loads.append(location)
        return True

    async def summarize(self, run_id: int) -> bool:
        return True

    async def load_payload(self, url: str) -> bool:
        return True

    async def themes(self, release_tag: str) -> bool:
        return True

    async def holds(self, locations: list[str]) -> set[str]:
        """As a queue that still holds every load it was given."""
        return set(self.loads) & set(locations)
