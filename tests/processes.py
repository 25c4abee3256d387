"""Looking at processes through /proc: who are a process's children, and are they gone."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    pid: int
    started: int  # clock ticks after boot: tells a reused pid apart

    def alive(self) -> bool:
        """Running (a zombie has finished; it only waits for whoever adopted it to reap it)."""
        stat = _stat(self.pid)
        return stat is not None and stat[2] == self.started and stat[0] not in "ZX"

    def cmdline(self) -> str:
        try:
            return (PROC / str(self.pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return ""


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of `pid`, None when there is no such process."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces: the fields start after its last ")".
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def process(pid: int) -> Proc:
    stat = _stat(pid)
    assert stat is not None, f"no process {pid}"
    return Proc(pid, stat[2])


def children(pid: int) -> list[Proc]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] not in "ZX":
                found.append(Proc(int(entry.name), stat[2]))
    return found


def wait_until_gone(procs: list[Proc], *, deadline_s: float = 60) -> list[Proc]:
    """The ones still running after the deadline (which only a real hang reaches)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        left = [p for p in procs if p.alive()]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in procs if p.alive()]
