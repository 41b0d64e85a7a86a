"""The vidgate command as a newcomer uses it: real processes, real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server import free_port

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
for name in list(ENV):
    if name.startswith("VIDGATE_"):
        del ENV[name]


def vidgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidgate", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=60
    )


def test_keys_create_prints_the_secret_alone_on_the_last_line_and_stores_only_its_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = vidgate("keys", "create", "--data-dir", str(data), "--name", "acme", "--balance", "12.5", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    secret = out.stdout.strip().splitlines()[-1]
    assert secret.startswith("sk-vg-") and " " not in secret
    assert "acme" in out.stdout and "12.5" in out.stdout
    account_id = out.stdout.split()[1]

    more = vidgate("keys", "create", "--data-dir", str(data), "--account", account_id, "--name", "ci", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    second = more.stdout.strip().splitlines()[-1]
    assert second.startswith("sk-vg-") and second != secret

    db = sqlite3.connect(data / "vidgate.db")
    rows = db.execute("SELECT account_id, secret_hash, prefix FROM api_keys").fetchall()
    assert {r[0] for r in rows} == {account_id} and len(rows) == 2
    dump = "\n".join(db.iterdump())
    assert secret not in dump and second not in dump
    assert db.execute("SELECT balance FROM accounts").fetchone() == (12_500_000,)


def test_keys_create_for_an_unknown_account_is_a_usage_error(tmp_path: Path) -> None:
    out = vidgate("keys", "create", "--data-dir", str(tmp_path), "--account", "acct_nope", cwd=tmp_path)
    assert out.returncode == 2
    assert "no account acct_nope" in out.stderr


def test_serve_creates_an_account_on_first_start_only_and_its_key_works(tmp_path: Path) -> None:
    port = free_port()
    first = serve_until_ready(tmp_path, port)
    key = next(line.strip() for line in first if line.strip().startswith("sk-vg-"))
    console = f"http://127.0.0.1:{port}/"
    assert any(line.startswith(f"console: {console} ") for line in first), first  # the playground
    assert httpx.get(console).headers["content-type"].startswith("text/html")
    r = httpx.post(
        f"http://127.0.0.1:{port}/v1/videos/generations",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "Omni-Flash-Ext", "prompt": "a quick test", "duration": 4},
    )
    assert r.status_code == 200, r.text
    stop_server()
    second = serve_until_ready(tmp_path, port)
    assert not any("sk-vg-" in line for line in second)
    assert (tmp_path / ".vidgate" / "vidgate.db").exists()  # the default data dir is ./.vidgate
    stop_server()


_proc: list[subprocess.Popen[str]] = []


def serve_until_ready(cwd: Path, port: int) -> list[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidgate", "serve", "--port", str(port)],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _proc.append(proc)
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Uvicorn running" in line:  # logged once the socket is bound ("startup complete" comes before)
            return lines
        if not line and proc.poll() is not None:
            break
    raise AssertionError("server did not start:\n" + "".join(lines))


def stop_server() -> None:
    proc = _proc.pop()
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells it
    assert "Application shutdown complete" in rest, rest
    assert proc.returncode in (0, -signal.SIGTERM)


def test_serve_on_a_port_in_use_says_so_in_one_line_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = vidgate("serve", "--port", str(port), cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr == (
        f"Error: port {port} on 127.0.0.1 is already in use; choose another with --port (make run PORT={port + 1})\n"
    )
    assert "Traceback" not in out.stdout + out.stderr and out.stdout == ""
    assert not (tmp_path / ".vidgate").exists()  # no database, no first-start account shown for nothing


def test_make_run_serves_on_the_port_and_host_given() -> None:
    root = Path(__file__).resolve().parents[2]
    dry = subprocess.run(
        ["make", "-n", "-C", str(root), "run", "PORT=8001", "HOST=0.0.0.0"], capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0, dry.stderr
    assert "/vidgate serve --host 0.0.0.0 --port 8001" in dry.stdout
    default = subprocess.run(
        ["make", "-n", "-C", str(root), "run"],
        env={**ENV, "PORT": "9", "HOST": "::"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "/vidgate serve --host 127.0.0.1 --port 8000" in default.stdout  # the environment's PORT is not used


def test_serve_takes_workers_as_api_processes_and_refuses_bad_settings_in_one_line(tmp_path: Path) -> None:
    out = vidgate("serve", "--help", cwd=tmp_path)
    assert "--workers, --processes N" in out.stdout and "--no-workers" in out.stdout
    zero = vidgate("serve", "--workers", "0", cwd=tmp_path)
    assert zero.returncode == 2 and "Invalid value for '--workers'" in zero.stderr
    for setting, value, rule in (
        ("VIDGATE_LOG_FORMAT", "xml", "Input should be 'text' or 'json'"),
        ("VIDGATE_ADMIN_TOKEN", "short-secret", "at least 16 characters"),
    ):
        env = {**ENV, setting: value}
        for command in ("serve", "worker"):
            args = [sys.executable, "-m", "vidgate", command, "--data-dir", str(tmp_path / "data")]
            out = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 1, (command, out.stderr)
            assert out.stderr.startswith(f"Error: invalid setting: {setting}: ") and rule in out.stderr, out.stderr
            assert value not in out.stderr and "Traceback" not in out.stderr  # the value may be a secret
    assert not (tmp_path / "data").exists()  # nothing was opened
