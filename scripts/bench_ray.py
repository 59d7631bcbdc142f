"""Scale-out benchmark: `mtcheck gate` locally and with `--ray` (1 and N workers), in one run.

    python scripts/bench_ray.py [--segments 6000] [--lm-segments 1000] [--workers 1,2,1x2] [--md table.md]

Each measure is a whole `mtcheck gate --hyp … --no-cache -q` process (start-up, Ray's start and
the model load included), on distinct MT outputs of the dev MQM file, one segment per line:

- `--no-lm` on ``--segments`` segments, and with the language model on ``--lm-segments``, each
  locally and with each Ray pool of ``--workers``;
- Ray's fixed cost: the same gate on 10 segments, locally and with `--ray`.

Tokens are the detector's own (the backbone tokenizer), so tokens/s compares with
``scripts/bench.py``. Needs ``pip install 'mtcheck[ray]'`` and the packaged model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import mqm_targets  # this folder is on sys.path when the script runs


def token_count(lines: list[str]) -> int:
    from mtcheck.config import Config
    from mtcheck.lm.backbone import Backbone

    config = Config(device="cpu")
    backbone = Backbone.load(config.model, config.gguf_file, config.device)
    return sum(len(ids) for ids, _, _ in backbone.tokenize(lines))


def gate_seconds(path: Path, *extra: str) -> float:
    command = [sys.executable, "-m", "mtcheck", "gate", "--hyp", str(path), "--no-cache", "--no-color", "-q", *extra]
    began = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=6000)
    parser.add_argument("--lm-segments", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,1x2",
                        help="comma-separated Ray pools: N workers, or NxC for N workers of C CPUs each")
    parser.add_argument("--md", type=Path, default=None, help="also write the Markdown table here")
    args = parser.parse_args()
    pools = [tuple(int(n) for n in (spec.split("x") + ["1"])[:2]) for spec in args.workers.split(",")]

    lines = mqm_targets(max(args.segments, args.lm_segments))
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for label, count, extra in (("--no-lm", args.segments, ("--no-lm",)), ("language model", args.lm_segments, ())):
            path = Path(work) / f"{count}.en"
            path.write_text("\n".join(lines[:count]) + "\n", encoding="utf-8")
            tokens = token_count(lines[:count])
            engines = [("local (this process)", ())] + [
                (f"--ray, {w} worker{'s' if w > 1 else ''} × {c} CPU{'s' if c > 1 else ''}",
                 ("--ray", "--workers", str(w), "--cpus-per-worker", str(c)))
                for w, c in pools
            ]
            for engine, options in engines:
                seconds = gate_seconds(path, *extra, *options)
                rows.append((label, engine, count, tokens, seconds))
                print(f"{label:15} {engine:24} {count:6} segments {seconds:8.1f} s", file=sys.stderr, flush=True)
        small = Path(work) / "small.en"
        small.write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
        fixed_local = gate_seconds(small, "--no-lm")
        fixed_ray = gate_seconds(small, "--no-lm", "--ray", "--workers", "1")

    out = [
        f"Machine: {os.cpu_count()} CPUs; the load average after the run is on the last line.",
        "",
        "| checks | engine | segments | tokens | seconds | segments/s | tokens/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for label, engine, count, tokens, seconds in rows:
        out.append(f"| {label} | {engine} | {count:,} | {tokens:,} | {seconds:.1f} | {count / seconds:,.1f} | {tokens / seconds:,.0f} |")
    out += ["", f"Ray's fixed cost (10 segments, `--no-lm`): local {fixed_local:.1f} s, `--ray` {fixed_ray:.1f} s "
            f"(+{fixed_ray - fixed_local:.1f} s).", f"Load average: {os.getloadavg()[0]:.2f}"]
    text = "\n".join(out) + "\n"
    print(text)
    if args.md:
        args.md.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
