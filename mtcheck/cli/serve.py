"""``mtcheck serve``: the editorial HTTP service (JSON API, OpenAPI docs and a page for editors).

Only click and the standard library are imported here, so ``mtcheck --help`` stays fast; the web
stack and the model are loaded when the command runs.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import click

from mtcheck.cli.common import DEVICES, WEIGHTS_HELP

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2, "gi": 1024**3, "gib": 1024**3}


def parse_size(value: str) -> int:
    """Bytes in '1MB' (10**6), '512KiB' (2**19), '2000' …; decimal units for kB/MB/GB, binary for KiB/MiB/GiB."""
    match = _SIZE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size (examples: 1MB, 512KiB, 200000)")
    number, unit = match.groups()
    size = int(float(number) * _UNITS[(unit or "").lower()])
    if size < 1:
        raise ValueError(f"{value!r} must be at least one byte")
    return size


class ByteSize(click.ParamType):
    name = "size"

    def convert(self, value, param, ctx) -> int:  # noqa: ANN001
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback exposes the service to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@click.option("--max-body", type=ByteSize(), default="1MB", show_default=True,
              help="Largest request body accepted (413 beyond it); kB/MB are decimal, KiB/MiB binary.")
@click.option("--workers-threads", "threads", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Checks run at once in worker threads (language-model calls still run one at a time).")
@click.option("--workers-processes", "processes", type=click.IntRange(0, 64), default=2, show_default=True,
              help="Worker processes for heuristics-only checks (0: use the threads; slower under load).")
@click.option("--max-queue", type=click.IntRange(1, 100_000), default=32, show_default=True,
              help="Checks accepted at once (running and waiting); more are answered 503 with Retry-After.")
@click.option("--request-timeout", type=click.FloatRange(0.1, 3600), default=60.0, show_default=True,
              help="Seconds a check may take, waiting included, before it is answered 503.")
@click.option("--allow-host", "allow_hosts", multiple=True,
              help="A Host header to serve besides localhost, 127.0.0.1 and ::1 (repeat; '*' for any).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="mtcheck.toml or pyproject.toml to use instead of discovery.")
@click.option("--no-lm", "no_lm", is_flag=True, help="Heuristic rules only (fast; never loads torch).")
@click.option("--model", default=None, help="Hugging Face causal LM name or local folder (default: packaged Gemma-3-270M).")
@click.option("--gguf-file", default=None, help="GGUF file name inside --model's folder.")
@click.option("--device", type=DEVICES, default=None, help="Where the LM runs.")
@click.option("--thresholds", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fluency thresholds written by 'mtcheck calibrate'.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None, help=WEIGHTS_HELP)
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True)
def serve(  # noqa: ANN001
    host, port, max_body, threads, processes, max_queue, request_timeout, allow_hosts, config_path, no_lm, model,
    gguf_file, device, thresholds, weights, log_level
) -> None:
    """Serve the checker over HTTP: POST /v1/check, GET /v1/rules, GET /healthz, /docs, and a page at /."""
    from mtcheck.cli.common import fail, resolve_config
    from mtcheck.errors import MtcheckError

    try:
        import uvicorn

        from mtcheck.server.app import create_app
        from mtcheck.server.service import CheckService
    except ImportError as exc:
        fail(f"mtcheck serve needs its web packages (fastapi, uvicorn): {exc}")
    config = resolve_config(config_path, lm=False if no_lm else None, model=model, gguf_file=gguf_file,
                            device=device, thresholds=thresholds, weights=weights)
    if not is_loopback(host):
        click.echo(f"mtcheck: warning: serving on {host}: anyone who can reach it may submit text", err=True)
    if config.lm:
        click.echo("mtcheck: loading the language model…", err=True)
    try:
        service = CheckService(config, threads=threads, processes=processes)
    except MtcheckError as exc:
        fail(str(exc))
    from mtcheck.server.service import LOCAL_HOSTS

    hosts = [*LOCAL_HOSTS, *allow_hosts]
    if not is_loopback(host) and not allow_hosts:
        click.echo(f"mtcheck: note: only Host headers {', '.join(LOCAL_HOSTS)} are served; add yours with --allow-host",
                   err=True)
    app = create_app(service, max_body=max_body, max_queue=max_queue, request_timeout=request_timeout,
                     allowed_hosts=hosts)
    from mtcheck.server.http import header_timeout_protocol

    # Idle keep-alive connections close after 5 s; headers must arrive within 10 s, bodies within 30 s.
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, proxy_headers=False,
                timeout_keep_alive=5, http=header_timeout_protocol())
