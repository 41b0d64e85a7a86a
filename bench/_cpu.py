"""Processor time of the processes a benchmark runs, from /proc: where the time went."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pids: list[int]) -> float:
    """Processor time (user + system) of these processes so far, from /proc (0 where unreadable)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().startswith("postgres"):
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def cpu_snapshot(procs: dict[str, list[int]]) -> dict[str, float]:
    """Processor seconds so far of each named group of processes, of PostgreSQL's processes
    and of the benchmark itself (``bench clients``)."""
    snap = {name: cpu_seconds(pids) for name, pids in procs.items()}
    snap["postgres"] = cpu_seconds(postgres_pids())
    times = os.times()
    snap["bench clients"] = times.user + times.system
    return snap
