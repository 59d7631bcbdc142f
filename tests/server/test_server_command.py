"""``mtcheck serve``: its options, and the real command started in a child process."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from mtcheck.cli.serve import is_loopback, parse_size, serve


@pytest.mark.parametrize(
    ("text", "size"),
    [("1MB", 1_000_000), ("1 mb", 1_000_000), ("512KiB", 524_288), ("2MiB", 2_097_152), ("1500", 1_500),
     ("1.5kB", 1_500), ("10b", 10)],
)
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MB", "-1MB", "1 TB", "0", "one"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_loopback_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.org")


def test_help_and_bad_options():
    runner = CliRunner()
    help_text = runner.invoke(serve, ["--help"]).output
    for option in ("--host", "--port", "--max-body", "--no-lm", "--model", "--workers-threads", "--workers-processes"):
        assert option in help_text
    assert "127.0.0.1" in help_text
    bad = runner.invoke(serve, ["--max-body", "lots"])
    assert bad.exit_code == 2 and "not a size" in bad.output


def test_serve_binds_loopback_and_applies_max_body(tmp_path):
    from serverkit import free_port

    port = free_port()
    command = [sys.executable, "-c", "from mtcheck.cli.serve import serve; serve()", "--no-lm",
               "--port", str(port), "--max-body", "2KB", "--workers-processes", "0", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                health = httpx.get(f"{url}/healthz", timeout=1).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "mtcheck serve did not start"
                time.sleep(0.1)
        assert health["model_loaded"] is False and health["max_body_bytes"] == 2_000
        assert httpx.post(f"{url}/v1/check", json={"text": "x" * 3_000}).status_code == 413
        ok = httpx.post(f"{url}/v1/check", json={"text": "Rain fell. . It stopped."})
        assert [f["code"] for f in ok.json()["documents"][0]["findings"]] == ["P001"]
    finally:
        process.terminate()
        process.wait(timeout=15)
