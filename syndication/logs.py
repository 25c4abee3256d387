"""One log format for the CLI, the app and hypercorn, in every worker process."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


def configure(level: int = logging.INFO) -> None:
    """Idempotent: a no-op once the root logger has a handler (hypercorn's spawned workers
    start without one, so the app calls this too)."""
    logging.basicConfig(level=level, format=FORMAT)
