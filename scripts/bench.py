"""Speed benchmark of the learned detector against a naive baseline, in one run.

    python scripts/bench.py [--quick] [--out bench.json] [--md bench.md] [--rounds N] [--sizes 1,10]

Every measure runs in a fresh subprocess, so each number is what a real ``mtcheck`` process gets
(its own start-up, threads and memory):

- Detector tokens/s on the same paragraphs (the sample article's plus clean dev news): mtcheck's
  path (the frozen layers on LlamaEngine over flat rows, then the trained network) against a
  NAIVE baseline on the same weights: transformers' AutoModelForCausalLM over padded batches of 8
  in input order, every layer run (output_hidden_states), the state after ``depth`` layers taken,
  then the same network. Rounds alternate the two; medians are reported. Also their agreement
  (max |Δp| per word; tolerance 1e-3).
- FLOP per scored token: 2 x the parameters a token passes through (frozen layers, trained
  layers, GRU, head), against the brief's limit of 2 x 134.5 M.
- Sample article: cold (a new `mtcheck check --format json` process, model cache present: wall
  time and peak RSS) and warm (a reused Checker, second and later calls).
- Model load (backbone light load plus detector weights).
- Heuristics only (`--no-lm`): MB/s of text on inputs of the given sizes, and that torch stays out.
- `mtcheck gate` segments/s on dev MQM outputs, --no-lm and with the detector.

Inputs are deterministic. The load average before and after is recorded: on a shared CPU,
compare ratios from the same run rather than absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mtcheck.lm.models import OPENMP_WAIT_SETTINGS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "000_0664a0eb5d459460.txt"
EVAL_DIR = Path(os.environ.get("MTCHECK_EVAL_DIR", ROOT.parent / "shared" / "eval"))
NEWS = EVAL_DIR / "dev" / "newstest2021.en.src.jsonl"
MQM = EVAL_DIR / "dev" / "mqm_ted_zhen.jsonl"
TOLERANCE = 1e-3  # probability per word: mtcheck's path must match the baseline this closely
FLOP_LIMIT = 2 * 134.5e6  # the brief's limit per scored token
PY = sys.executable


# ------------------------------------------------------------------------------ inputs


def news_paragraphs(count: int) -> list[str]:
    """Clean dev news as paragraphs of three consecutive segments (headlines left out), in file order."""
    by_doc: dict[str, list[str]] = {}
    with NEWS.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            by_doc.setdefault(row["doc_id"], []).append(row["text"].strip())
    paragraphs = []
    for segments in by_doc.values():
        for i in range(1, len(segments), 3):
            paragraphs.append(" ".join(segments[i : i + 3]))
    return paragraphs[:count]


def sample_paragraphs() -> list[str]:
    return [line for line in SAMPLE.read_text(encoding="utf-8").split("\n") if line.strip()]


def mqm_targets(count: int) -> list[str]:
    """Distinct MT outputs of the dev MQM file, in file order, one line each."""
    seen: dict[str, None] = {}
    with MQM.open(encoding="utf-8") as handle:
        for line in handle:
            text = " ".join(json.loads(line)["target"].split())
            if text:
                seen.setdefault(text, None)
            if len(seen) >= count:
                break
    return list(seen)


# ------------------------------------------------------------------------------ workers


def _documents(count: int) -> list[Any]:
    from mtcheck.document import Document

    return [Document.parse(text) for text in sample_paragraphs() + news_paragraphs(count)]


def _config(spec: dict[str, Any]) -> Any:
    """The configuration a worker checks with: the packaged model, or --model/--weights."""
    from mtcheck.config import Config

    backbone = spec.get("backbone") or {}
    return Config(device="cpu", model=backbone.get("model"),
                  weights=Path(backbone["weights"]) if backbone.get("weights") else None)


def _detector(spec: dict[str, Any]) -> Any:
    from mtcheck.fluency.detector import Detector

    return Detector.from_config(_config(spec))


def worker_detector(spec: dict[str, Any]) -> dict[str, Any]:
    """mtcheck's path: tokens/s and the words' probabilities (saved for the agreement check)."""
    import numpy as np

    from mtcheck.fluency.align import rows

    detector = _detector(spec)
    documents = _documents(spec["paragraphs"])
    tokens = sum(len(r.ids) for d in documents for r in rows(d, detector.backbone.tokenize, detector.backbone.start_id))
    detector.probabilities(documents[:2])  # warm up
    began = time.perf_counter()
    probabilities = detector.probabilities(documents)
    seconds = time.perf_counter() - began
    np.savez(spec["save"], *probabilities)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds, "flop_per_token": flop_per_token(detector)}


def worker_naive(spec: dict[str, Any]) -> dict[str, Any]:
    """The baseline: transformers' full forward pass over padded batches of 8, then the same network."""
    import numpy as np
    import torch

    from mtcheck.fluency.align import rows

    detector = _detector(spec)
    model = detector.backbone.loaded.model  # transformers' model on the same weights
    depth = detector.weights.shape.depth
    documents = _documents(spec["paragraphs"])
    all_rows = [(i, r) for i, d in enumerate(documents) for r in rows(d, detector.backbone.tokenize, detector.backbone.start_id)]
    result = [np.zeros(len(d.words)) for d in documents]
    tokens = sum(len(r.ids) for _, r in all_rows)
    began = time.perf_counter()
    with torch.inference_mode():
        for begin in range(0, len(all_rows), 8):
            batch = all_rows[begin : begin + 8]
            lengths = torch.tensor([len(r.ids) for _, r in batch])
            ids = torch.zeros(len(batch), int(lengths.max()), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for k, (_, r) in enumerate(batch):
                ids[k, : len(r.ids)] = torch.tensor(r.ids)
                mask[k, : len(r.ids)] = 1
            states = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[depth]
            probs = torch.sigmoid(detector.net(states, lengths)).numpy()
            for k, (owner, r) in enumerate(batch):
                result[owner][r.words] = probs[k, r.last_token]
    seconds = time.perf_counter() - began
    np.savez(spec["save"], *result)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}


def flop_per_token(detector: Any) -> float:
    """2 x the multiply-adds of one token through the frozen layers, the trained layers, the GRU and the head."""
    engine, shape = detector.backbone.engine, detector.weights.shape
    per_layer = engine.layer_weights
    trained = sum(p.numel() for p in detector.net.parameters())
    return 2.0 * (per_layer * shape.depth + trained)


def worker_warm(spec: dict[str, Any]) -> dict[str, Any]:
    """A reused Checker on the sample: the first call, then the median of the next ones."""
    from mtcheck import Checker

    text = SAMPLE.read_text(encoding="utf-8")
    began = time.perf_counter()
    checker = Checker(_config(spec))
    checker.fluency  # noqa: B018 (loads the model)
    load = time.perf_counter() - began
    times = []
    for _ in range(spec["repeats"] + 1):
        began = time.perf_counter()
        report = checker.check(text)
        times.append(time.perf_counter() - began)
    return {"load": load, "first": times[0], "warm": statistics.median(times[1:]), "findings": len(report.findings)}


HEURISTIC_KINDS = ("news", "near-duplicates", "one-line", "closing-quotes", "opening-quotes")


def heuristic_text(kind: str, size: int) -> str:
    """``size`` characters of one input kind, deterministic: clean news in paragraphs; sentences
    that nearly repeat each other; the news as one line with no line break; and the two
    quote patterns that made the quote and casing rules quadratic ('Ab.” ', '“Ab ')."""
    import random

    if kind in ("news", "one-line"):
        base = "\n\n".join(news_paragraphs(1000)) + "\n\n"
        if kind == "one-line":
            base = base.replace("\n", " ")
        return (base * (size // len(base) + 1))[:size]
    if kind == "near-duplicates":
        rng = random.Random(7)
        words = "the minister said the talks would resume next week in geneva and the delegations agreed to attend".split()
        parts, length = [], 0
        while length < size:
            sentence = words[:]
            sentence[rng.randrange(len(sentence))] = rng.choice(["would", "will", "may", "might", "could"])
            part = " ".join(sentence).capitalize() + ". "
            parts.append(part)
            length += len(part)
        return "".join(parts)[:size]
    unit = {"closing-quotes": "Ab.\u201d ", "opening-quotes": "\u201cAb "}[kind]
    return (unit * (size // len(unit) + 1))[:size]


def worker_heuristics(spec: dict[str, Any]) -> dict[str, Any]:
    from mtcheck import Checker
    from mtcheck.config import Config

    size = int(spec["megabytes"] * 1_000_000)
    text = heuristic_text(spec.get("kind", "news"), size)
    checker = Checker(Config(lm=False))
    began = time.perf_counter()
    report = checker.check(text)
    seconds = time.perf_counter() - began
    return {"kind": spec.get("kind", "news"), "megabytes": spec["megabytes"], "seconds": seconds,
            "mb_per_s": spec["megabytes"] / seconds, "findings": len(report.findings),
            "torch_imported": "torch" in sys.modules}


WORKERS = {"detector": worker_detector, "naive": worker_naive, "warm": worker_warm, "heuristics": worker_heuristics}


def fresh_environment() -> dict[str, str]:
    """This process's environment without OpenMP wait settings, so each process makes its own."""
    return {key: value for key, value in os.environ.items() if key not in OPENMP_WAIT_SETTINGS}


def run_worker(mode: str, spec: dict[str, Any], env: dict[str, str] | None = None, timeout: float = 1800) -> dict[str, Any]:
    """Run a worker in a fresh interpreter; its last stdout line is its JSON result."""
    environment = fresh_environment()
    environment.update(env or {})
    command = [PY, str(Path(__file__).resolve()), "--worker", mode, "--spec", json.dumps(spec)]
    completed, wall, rss = run_measured(command, environment, timeout)
    if completed.returncode != 0:
        raise RuntimeError(f"worker {mode} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["_wall"], result["_max_rss_mb"] = wall, rss
    return result


def run_measured(command: list[str], env: dict[str, str], timeout: float, stdin: str | None = None,
                 cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``command``: its result, wall seconds and peak RSS (MB, from wait4's rusage)."""
    began = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE if stdin else None,
        env=env, cwd=str(cwd or ROOT), text=True,
    )
    # communicate() reaps the child; to keep its own rusage we wait4 it ourselves first.
    stdout_chunks: list[str] = []
    stderr_chunks: list[str] = []
    import threading

    readers = [
        threading.Thread(target=lambda: stdout_chunks.append(process.stdout.read()), daemon=True),
        threading.Thread(target=lambda: stderr_chunks.append(process.stderr.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    if stdin:
        process.stdin.write(stdin)
        process.stdin.close()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.005)
    wall = time.perf_counter() - began
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
    return (
        subprocess.CompletedProcess(command, process.returncode, "".join(stdout_chunks), "".join(stderr_chunks)),
        wall,
        rss_mb,
    )


def first_run(chosen: list[str]) -> dict[str, Any]:
    """`mtcheck check` on the sample with an empty model cache: the one-time assembly and
    conversion included. Wall time, peak RSS, and what the cache then holds."""
    with tempfile.TemporaryDirectory(prefix="mtcheck-first-run-") as cache:
        env = {**fresh_environment(), "MTCHECK_CACHE": cache}
        completed, wall, rss = run_measured([PY, "-m", "mtcheck", "check", str(SAMPLE), "--format", "json", *chosen], env, 1800)
        if completed.returncode not in (0, 1):
            raise RuntimeError(f"first run failed ({completed.returncode}): {completed.stderr[-2000:]}")
        size = sum(f.stat().st_size for f in Path(cache).rglob("*") if f.is_file())
    return {"seconds": wall, "peak_rss_mb": rss, "cache_mb": size / 1e6}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def agreement(naive_file: str, mtcheck_file: str) -> float:
    import numpy as np

    a, b = np.load(naive_file), np.load(mtcheck_file)
    return float(max(np.abs(a[k] - b[k]).max(initial=0.0) for k in a.files))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results: dict[str, Any] = {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
                               "loadavg_before": loadavg()}
    rounds = args.rounds or (1 if args.quick else 3)
    backbone = {"model": args.model, "weights": str(args.weights) if args.weights else None}
    results["backbone"] = backbone
    paragraphs = 40 if args.quick else 200
    work = Path(tempfile.mkdtemp(prefix="mtcheck-bench-"))
    say(f"detector tokens/s: naive baseline and mtcheck, {rounds} alternating round(s) …")
    naive, ours = [], []
    for round_ in range(rounds):
        naive.append(run_worker("naive", {"paragraphs": paragraphs, "save": str(work / f"naive{round_}.npz"), "backbone": backbone}))
        ours.append(run_worker("detector", {"paragraphs": paragraphs, "save": str(work / f"ours{round_}.npz"), "backbone": backbone}))
    naive_rate = median([r["tokens_per_s"] for r in naive])
    our_rate = median([r["tokens_per_s"] for r in ours])
    results["tokens_per_s"] = {
        "tokens": ours[0]["tokens"], "naive": naive_rate, "mtcheck": our_rate, "speedup": our_rate / naive_rate,
        "max_abs_probability_difference": agreement(str(work / "naive0.npz"), str(work / "ours0.npz")),
        "peak_rss_mb": max(r["_max_rss_mb"] for r in ours),
    }
    flop = ours[0]["flop_per_token"]
    results["flop_per_token"] = {"detector": flop, "limit": FLOP_LIMIT, "share_of_limit": flop / FLOP_LIMIT}
    say("sample: cold process and warm checker …")
    env = fresh_environment()
    chosen = [a for key in ("model", "weights") if backbone.get(key) for a in (f"--{key}", backbone[key])]
    cold = [run_measured([PY, "-m", "mtcheck", "check", str(SAMPLE), "--format", "json", *chosen], env, 600) for _ in range(rounds)]
    warm = run_worker("warm", {"repeats": 3 if args.quick else 10, "backbone": backbone})
    results["sample"] = {
        "cold_seconds": median([wall for _, wall, _ in cold]), "cold_peak_rss_mb": max(rss for _, _, rss in cold),
        "warm_seconds": warm["warm"], "first_call_seconds": warm["first"], "load_seconds": warm["load"],
        "findings": warm["findings"], "warm_peak_rss_mb": warm["_max_rss_mb"],
    }
    if args.first_run:
        say("first run: an empty model cache …")
        results["first_run"] = first_run(chosen)
    say("heuristics only …")
    results["heuristics"] = heuristics_runs(args.sizes, args.kinds)
    if not args.quick:
        say("mtcheck gate …")
        results["gate"] = gate_runs(work, args.quick)
    results["loadavg_after"] = loadavg()
    return results


def heuristics_runs(sizes: list[float], kinds: list[str]) -> list[dict[str, Any]]:
    """--no-lm MB/s and the worker's peak RSS for every input kind and size."""
    runs = []
    for kind in kinds:
        for size in sizes:
            print(f"  --no-lm: {kind}, {size:g} MB …", file=sys.stderr, flush=True)
            result = run_worker("heuristics", {"megabytes": size, "kind": kind})
            result["peak_rss_mb"] = result.pop("_max_rss_mb")
            runs.append(result)
    return runs


def gate_runs(work: Path, quick: bool) -> dict[str, Any]:
    lines = mqm_targets(1500 if quick else 6000)
    small = lines[: 150 if quick else 1000]
    big_file, small_file = work / "corpus.en", work / "corpus-small.en"
    big_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    small_file.write_text("\n".join(small) + "\n", encoding="utf-8")
    env = fresh_environment()

    def gate(path: Path, cache: Path, *extra: str) -> float:
        command = [PY, "-m", "mtcheck", "gate", "--hyp", str(path), "--cache-dir", str(cache), "--no-color", "-q", *extra]
        completed, wall, _ = run_measured(command, env, 3600)
        if completed.returncode not in (0, 1):
            raise RuntimeError(f"mtcheck gate failed: {completed.stderr[-2000:]}")
        return wall

    no_lm = gate(big_file, work / "cache-nolm", "--no-lm")
    no_lm_jobs = gate(big_file, work / "cache-nolm-jobs", "--no-lm", "--jobs", str(os.cpu_count() or 1))
    with_lm = gate(small_file, work / "cache-lm")
    with_lm_again = gate(small_file, work / "cache-lm")
    tokens = sum(len(line.split()) for line in small)
    return {
        "no_lm_segments": len(lines),
        "no_lm_segments_per_s": len(lines) / no_lm,
        "no_lm_jobs_segments_per_s": len(lines) / no_lm_jobs,
        "lm_segments": len(small),
        "lm_segments_per_s": len(small) / with_lm,
        "lm_words_per_s": tokens / with_lm,
        "lm_warm_cache_segments_per_s": len(small) / with_lm_again,
        "note": "wall time of whole `mtcheck gate` processes, start-up and model load included",
    }


def gate_memory_runs(sizes: list[float], formats: Sequence[str] = ("",)) -> list[dict[str, Any]]:
    """`mtcheck gate` (rules only, no cache) on JSONL corpora of each size in MB: dev news segments
    made distinct, documents of 20 segments, a reference in each record. Wall time and peak RSS of
    the whole process, for each of ``formats`` ("": the summary only; else a report written to a
    file): the gate's memory should not grow with the corpus."""
    texts = [json.loads(line)["text"].strip() for line in NEWS.open(encoding="utf-8")]
    runs = []
    with tempfile.TemporaryDirectory(prefix="mtcheck-gate-memory-") as work:
        for megabytes in sizes:
            path = Path(work) / f"corpus-{megabytes:g}.jsonl"
            written, number = 0, 0
            with path.open("w", encoding="utf-8") as handle:
                while written < megabytes * 1e6:
                    text = texts[number % len(texts)] + (f" Item {number}." if number >= len(texts) else "")
                    line = json.dumps({"id": number, "doc": f"d{number // 20}", "text": text,
                                       "ref": texts[number % len(texts)]}, ensure_ascii=False) + "\n"
                    handle.write(line)
                    written += len(line.encode("utf-8"))
                    number += 1
            for fmt in formats:
                command = [PY, "-m", "mtcheck", "gate", str(path), "--doc-field", "doc", "--ref-field", "ref",
                           "--no-lm", "--no-cache", "-q"]
                report = Path(work) / f"report.{fmt}"
                if fmt:
                    command += ["--format", fmt, "-o", str(report)]
                completed, wall, rss = run_measured(command, fresh_environment(), 7200)
                if completed.returncode not in (0, 1):
                    raise RuntimeError(f"mtcheck gate failed: {completed.stderr[-2000:]}")
                runs.append({"megabytes": megabytes, "segments": number, "format": fmt or "summary only",
                             "seconds": wall, "peak_rss_mb": rss})
                report.unlink(missing_ok=True)
            path.unlink()
    return runs


# ------------------------------------------------------------------------------ report


def heuristics_rows(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f"--no-lm, {h['kind']}, {h['megabytes']:g} MB",
             f"{h['mb_per_s']:.2f} MB/s, peak RSS {h['peak_rss_mb']:.0f} MB, {h['findings']} findings"
             f"{' (torch imported!)' if h['torch_imported'] else ''}")
            for h in runs]


def markdown(results: dict[str, Any]) -> str:
    t, s = results["tokens_per_s"], results["sample"]
    rows = [
        ("detector tokens/s: mtcheck / naive baseline", f"{t['mtcheck']:.0f} / {t['naive']:.0f} ({t['speedup']:.2f}x)"),
        ("max \\|Δp\\| per word against the baseline", f"{t['max_abs_probability_difference']:.1e} (tolerance {TOLERANCE:g})"),
        ("FLOP per scored token", f"{results['flop_per_token']['detector'] / 1e6:.1f} M ({100 * results['flop_per_token']['share_of_limit']:.0f}% of the limit)"),
        ("sample: cold process (wall, peak RSS)", f"{s['cold_seconds']:.2f} s, {s['cold_peak_rss_mb']:.0f} MB"),
        ("sample: warm check (median)", f"{s['warm_seconds'] * 1000:.0f} ms"),
        ("model + detector load", f"{s['load_seconds']:.2f} s"),
    ]
    if "first_run" in results:
        f = results["first_run"]
        rows.append(("first run, empty cache (wall, peak RSS, cache size)",
                     f"{f['seconds']:.0f} s, {f['peak_rss_mb']:.0f} MB, {f['cache_mb']:.0f} MB"))
    rows += heuristics_rows(results["heuristics"])
    if "gate" in results:
        g = results["gate"]
        rows += [("gate --no-lm segments/s", f"{g['no_lm_segments_per_s']:.0f}"),
                 ("gate with the detector, segments/s (words/s)", f"{g['lm_segments_per_s']:.1f} ({g['lm_words_per_s']:.0f})")]
    lines = [f"CPU: {results['cpu']} ({results['cores']} cores); load {results['loadavg_before']} -> {results['loadavg_after']}", "",
             "| measure | value |", "|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} |" for a, b in rows]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer paragraphs and rounds, no gate run")
    parser.add_argument("--first-run", action="store_true",
                        help="also time a check with an empty model cache (assembly and conversion: about a minute)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--sizes", default="1", help="comma-separated MB sizes for the --no-lm throughput (e.g. 1,10,50)")
    parser.add_argument("--kinds", default=",".join(HEURISTIC_KINDS),
                        help=f"--no-lm input kinds, comma-separated (default all: {', '.join(HEURISTIC_KINDS)})")
    parser.add_argument("--heuristics-only", action="store_true", help="only the --no-lm throughput table (no model needed)")
    parser.add_argument("--gate-memory", default=None, metavar="SIZES",
                        help="only the gate's peak memory on JSONL corpora of these MB sizes (e.g. 10,30,100; no model needed)")
    parser.add_argument("--gate-formats", default="", metavar="FORMATS",
                        help="with --gate-memory: also write a report in each of these formats (e.g. sarif,jsonl,json)")
    parser.add_argument("--model", default=None, help="another backbone (default: the packaged Gemma-3-270M)")
    parser.add_argument("--weights", type=Path, default=None, help="detector weights trained for --model")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--md", type=Path, default=None)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--spec", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](json.loads(args.spec))))
        return
    args.sizes = [float(x) for x in args.sizes.split(",") if x.strip()]
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(args.kinds) - set(HEURISTIC_KINDS)
    if unknown:
        parser.error(f"unknown --kinds {', '.join(sorted(unknown))} (known: {', '.join(HEURISTIC_KINDS)})")
    if args.gate_memory:
        sizes = [float(x) for x in args.gate_memory.split(",") if x.strip()]
        formats = ["", *(f for f in args.gate_formats.split(",") if f.strip())]
        results = {"cpu": cpu_name(), "cores": os.cpu_count(), "gate_memory": gate_memory_runs(sizes, formats)}
        text = "\n".join(["| JSONL | segments | output | wall | peak RSS |", "|---|---|---|---|---|"]
                         + [f"| {r['megabytes']:g} MB | {r['segments']:,} | {r['format']} | {r['seconds']:.1f} s | "
                            f"{r['peak_rss_mb']:.0f} MB |" for r in results["gate_memory"]]) + "\n"
    elif args.heuristics_only:
        results = {"cpu": cpu_name(), "cores": os.cpu_count(), "loadavg_before": loadavg(),
                   "heuristics": heuristics_runs(args.sizes, args.kinds), "loadavg_after": loadavg()}
        rows = heuristics_rows(results["heuristics"])
        text = "\n".join([f"CPU: {results['cpu']} ({results['cores']} cores); load {results['loadavg_before']} -> "
                          f"{results['loadavg_after']}", "", "| measure | value |", "|---|---|"]
                         + [f"| {a} | {b} |" for a, b in rows]) + "\n"
    else:
        results = measure(args)
        text = markdown(results)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if args.md:
        args.md.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
