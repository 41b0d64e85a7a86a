"""Command start-up benchmark: how long `vidgate --help` and `vidgate tasks get` take, against
the interpreter's own start (`python -c pass`) measured in the same run.

It starts one `vidgate serve` (SQLite in a temporary folder, the instant provider, its own
port on 127.0.0.1), makes an account, a key and a completed task, then runs each command
`--runs` times (default 20), interleaved (pass, --help, tasks get, pass, ...) so that the
shared machine's noise falls on all three alike, each in a fresh process as a shell would run
it (the `vidgate` script of this environment). It prints, per command, the median and the
fastest wall time, the median processor time (user + system) and the median wall time over the
interpreter's (the ratio); the goal (issue) is under 0.3 s for `vidgate --help` and `vidgate
tasks get`. Every run must succeed (exit 0, the task's id on stdout for `tasks get`).

    .venv/bin/python bench/cli_start.py [--runs 20]
"""

from __future__ import annotations

# ruff: noqa: I001

import _paths  # noqa: F401  (first: puts the project root on the path, see _paths.py)

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.overhead import completed_task, prepare, process, vidgate_env, wait_up
from tests.server import free_port

GOAL_S = 0.3


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def timed(cmd: list[str], env: dict[str, str], expect: str) -> tuple[float, float]:
    """Run ``cmd`` once: its wall time and the processor time (user + system) of the process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()  # type: ignore[union-attr]
    if proc.returncode != 0 or expect not in out:
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{out}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def _stop(*_: object) -> None:
    raise SystemExit("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)  # stopped from outside: still stop the server it started
    script = Path(sys.executable).parent / "vidgate"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = f"sqlite:///{data}/vidgate.db"
        key, _, _ = prepare(url)
        env = vidgate_env(url, data)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "vidgate", "serve", "--port", str(port)]
        with process(serve, env, data / "vidgate.log") as server:
            wait_up(base, server)
            task_id = completed_task(base, key)
            client_env = {**env, "VIDGATE_API_KEY": key, "VIDGATE_BASE_URL": base}
            commands = {
                "python -c pass": ([sys.executable, "-c", "pass"], ""),
                "vidgate --help": ([str(script), "--help"], "Commands:"),
                "vidgate tasks get": ([str(script), "tasks", "get", task_id], task_id),
            }
            results = {name: Timings() for name in commands}
            for cmd, expect in commands.values():  # once each, unmeasured: the file cache
                timed(cmd, client_env, expect)
            for _ in range(args.runs):
                for name, (cmd, expect) in commands.items():
                    wall, cpu = timed(cmd, client_env, expect)
                    results[name].wall.append(wall)
                    results[name].cpu.append(cpu)
    baseline = statistics.median(results["python -c pass"].wall)
    load = os.getloadavg()
    print(f"\n{args.runs} interleaved runs each; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'command':20}{'median s':>10}{'fastest s':>11}{'cpu s':>8}{'x python':>10}  goal")
    for name, timings in results.items():
        median = statistics.median(timings.wall)
        goal = "" if name.startswith("python") else ("met" if median < GOAL_S else f"NOT met (< {GOAL_S} s)")
        print(
            f"{name:20}{median:>10.3f}{min(timings.wall):>11.3f}{statistics.median(timings.cpu):>8.3f}"
            f"{median / baseline:>10.1f}  {goal}"
        )


if __name__ == "__main__":
    main()
