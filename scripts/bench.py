"""Speed benchmark: the LM scorer against a naive transformers baseline, latency, load, throughput.

    python scripts/bench.py [--quick] [--out bench.json] [--md bench.md] [--rounds N]

One run measures, each in a fresh subprocess (so every number is what a real `mtcheck` process
gets, with its own start-up, thread and memory settings):

- LM scoring tokens/s on the same paragraphs (the sample article's plus clean dev news), for
  mtcheck's Scorer and for a NAIVE baseline: transformers' AutoModelForCausalLM over padded
  batches of 8 in input order, full float32 log-softmax over the vocabulary, gather. Rounds
  alternate baseline and Scorer processes (load drifts on a shared machine); medians are
  reported. Also the agreement: max |Δ logprob| per token against the baseline (tolerance 1e-3).
- FLOP/token: tokens/s x 2 x parameters, against this CPU's measured float32 matmul peak.
- Sample article latency: cold (a new `mtcheck check ... --format json` process, model cache
  present; wall time and peak RSS) and warm (a reused Checker, second and later calls), with
  the warm time split into scoring and edit verification (continuation_logprob), and edit
  verification one call per candidate window against one batched call (as the pipeline makes it).
- Model load from the cache (light load, and transformers' from_pretrained for comparison).
- Heuristics-only throughput (MB/s of text, Checker(Config(lm=False))) and that torch stays out.
- `mtcheck gate` segments/s on a corpus built from dev MQM outputs: --no-lm, with the LM on a
  smaller slice, and the LM slice again with a warm result cache.
- Experiments (full mode, or --experiments): opt-in bf16 matrix products and dynamic int8
  quantisation: tokens/s, deviation, sample findings and BLiMP minimal-pair agreement; and the
  warm sample check under three OpenMP wait settings, on an idle machine and with every core
  kept busy by other processes.

Inputs are deterministic (fixed files, fixed order). The load average before and after is
recorded: on a shared CPU, compare ratios from the same run rather than absolute numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mtcheck.lm.models import OPENMP_WAIT_SETTINGS, SHORT_SPIN

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "000_0664a0eb5d459460.txt"
EVAL_DIR = Path(os.environ.get("MTCHECK_EVAL_DIR", ROOT.parent / "shared" / "eval"))
NEWS = EVAL_DIR / "dev" / "newstest2021.en.src.jsonl"
MQM = EVAL_DIR / "dev" / "mqm_ted_zhen.jsonl"
BLIMP = EVAL_DIR / "dev" / "blimp" / "BLiMP.zip"
TOLERANCE = 1e-3  # nats per token: the Scorer must match the baseline this closely
PARAMETERS_FALLBACK = 134_515_008  # SmolLM2-135M, tied embeddings counted once
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


def blimp_pairs(per_file: int) -> list[tuple[str, str]]:
    """The first ``per_file`` (good, bad) pairs of every BLiMP paradigm, in archive order."""
    pairs = []
    with zipfile.ZipFile(BLIMP) as archive:
        names = [n for n in archive.namelist() if n.endswith(".jsonl") and not n.startswith("__MACOSX")]
        for name in sorted(names):
            lines = archive.read(name).decode("utf-8").splitlines()
            for line in lines[:per_file]:
                row = json.loads(line)
                pairs.append((row["sentence_good"], row["sentence_bad"]))
    return pairs


# ------------------------------------------------------------------------------ workers


def _naive_scores(model: Any, tokenizer: Any, texts: list[str], start_id: int, batch: int = 8) -> list[Any]:
    """The baseline: padded batches of 8 in input order, full log-softmax, gather."""
    import torch

    out = []
    for begin in range(0, len(texts), batch):
        chunk = texts[begin : begin + batch]
        encoded = [
            [start_id, *tokenizer(t, add_special_tokens=False, split_special_tokens=True)["input_ids"]] for t in chunk
        ]
        length = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), length), start_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), length), dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, : len(e)] = torch.tensor(e)
            mask[row, : len(e)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask).logits
            logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            picked = logprobs.gather(2, ids[:, 1:, None]).squeeze(2)
        out.extend(picked[row, : len(e) - 1].numpy() for row, e in enumerate(encoded))
    return out


def worker_naive(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from mtcheck.lm.models import default_gguf_path, ensure_converted

    folder = str(ensure_converted(default_gguf_path()))
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True).eval()
    start_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    texts = json.loads(Path(spec["texts"]).read_text(encoding="utf-8"))
    _naive_scores(model, tokenizer, texts[:8], start_id)  # warm-up
    rates, scores = [], None
    for _ in range(spec["passes"]):
        began = time.perf_counter()
        scores = _naive_scores(model, tokenizer, texts, start_id)
        rates.append(sum(len(s) for s in scores) / (time.perf_counter() - began))
    if spec.get("save"):
        np.savez(spec["save"], *scores)
    return {"tokens": sum(len(s) for s in scores), "rates": rates, "threads": torch.get_num_threads()}


def worker_scorer(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from mtcheck.lm.models import load_model
    from mtcheck.lm.scorer import Scorer

    loaded = load_model(device="cpu")
    scorer = Scorer(
        loaded, engine=spec.get("engine", "auto"), attention=spec.get("attention", "bucket"),
        precision=spec.get("precision"),
    )
    texts = json.loads(Path(spec["texts"]).read_text(encoding="utf-8"))
    scorer.score(texts[:8])  # warm-up
    rates, scores = [], None
    for _ in range(spec["passes"]):
        began = time.perf_counter()
        scores = scorer.score(texts)
        rates.append(sum(len(s) for s in scores) / (time.perf_counter() - began))
    if spec.get("save"):
        np.savez(spec["save"], *[s.logprobs for s in scores])
        np.savez(spec["save"].replace(".npz", "-entropy.npz"), *[s.entropy for s in scores])
    parameters = (
        sum(t.numel() for t in loaded.weights.tensors.values()) if loaded.weights is not None else PARAMETERS_FALLBACK
    )
    return {
        "tokens": sum(len(s) for s in scores),
        "rates": rates,
        "threads": scorer._threads.chosen,
        "probe_seconds": scorer._threads.timings,
        "engine": "flat" if scorer.engine is not None else "transformers",
        "parameters": int(parameters),
        "transformers_imported": "transformers" in sys.modules,
    }


def worker_peak(spec: dict[str, Any]) -> dict[str, Any]:
    """float32 matmul GFLOP/s on this CPU: a large square product and a layer-shaped one."""
    import torch
    import torch.nn.functional as F

    most = torch.get_num_threads()
    result: dict[str, Any] = {}
    for threads in sorted({1, most}):
        torch.set_num_threads(threads)
        for label, (m, k, n) in {"square_2048": (2048, 2048, 2048), "layer_512x576x1536": (512, 576, 1536)}.items():
            a, b = torch.randn(m, k), torch.randn(n, k)
            F.linear(a, b)
            best = min(_timed(lambda a=a, b=b: F.linear(a, b)) for _ in range(spec.get("reps", 5)))
            result[f"{label}_threads{threads}"] = 2 * m * k * n / best / 1e9
    result["best"] = max(v for v in result.values())
    return result


def _timed(function: Any) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def worker_load(spec: dict[str, Any]) -> dict[str, Any]:
    began = time.perf_counter()
    import torch  # noqa: F401

    torch_seconds = time.perf_counter() - began
    transformers_seconds = 0.0
    if spec.get("light") is False:
        os.environ["MTCHECK_LIGHT_LOAD"] = "0"
        began = time.perf_counter()
        import transformers.models.llama.modeling_llama  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

        transformers_seconds = time.perf_counter() - began
    from mtcheck.lm.models import load_model

    began = time.perf_counter()
    loaded = load_model(device="cpu")
    load_seconds = time.perf_counter() - began
    from mtcheck.lm.scorer import Scorer

    began = time.perf_counter()
    Scorer(loaded).score(["A first short text to score."])
    first_seconds = time.perf_counter() - began
    return {
        "import_torch": torch_seconds,
        "import_transformers": transformers_seconds,
        "load_model": load_seconds,
        "first_score": first_seconds,
        "light": loaded.weights is not None,
        "transformers_imported": "transformers" in sys.modules,
    }


def worker_warm(spec: dict[str, Any]) -> dict[str, Any]:
    from mtcheck.config import Config
    from mtcheck.pipeline import Checker

    text = SAMPLE.read_text(encoding="utf-8")
    checker = Checker(Config())
    began = time.perf_counter()
    fluency = checker.fluency
    load_seconds = time.perf_counter() - began
    scorer = fluency.scorer
    spent = {"score": 0.0, "continuation": 0.0}
    calls: list[tuple[str, list[str]]] = []
    score, continuation, continuation_many = scorer.score, scorer.continuation_logprob, scorer.continuation_logprob_many

    def timed_score(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return score(*args, **kwargs)
        finally:
            spent["score"] += time.perf_counter() - began

    def timed_continuation(requests: Any) -> Any:
        calls.extend((prefix, list(candidates)) for prefix, candidates in requests)
        began = time.perf_counter()
        try:
            return continuation_many(requests)
        finally:
            spent["continuation"] += time.perf_counter() - began

    scorer.score, scorer.continuation_logprob_many = timed_score, timed_continuation
    began = time.perf_counter()
    report = checker.check(text, "sample")
    first = time.perf_counter() - began
    totals, splits = [], []
    for _ in range(spec["repeats"]):
        calls.clear()
        spent.update(score=0.0, continuation=0.0)
        began = time.perf_counter()
        checker.check(text, "sample")
        totals.append(time.perf_counter() - began)
        splits.append(dict(spent))
    # continuation_logprob calls continuation_logprob_many: unwrap before replaying the calls.
    del scorer.score, scorer.continuation_logprob_many
    # Edit verification one call per window vs one batched call (as the pipeline makes it, per
    # document), each after the paragraphs were scored (as in a check: that fills the prefix cache).
    from mtcheck.document import Document

    paragraphs = [p.text for p in Document.parse(text, "sample").paragraphs]
    sequential, batched = [], []
    for _ in range(max(1, spec["repeats"])):
        scorer._prefixes.clear()
        score(paragraphs)
        began = time.perf_counter()
        for prefix, candidates in calls:
            continuation(prefix, candidates)
        sequential.append(time.perf_counter() - began)
        scorer._prefixes.clear()
        score(paragraphs)
        began = time.perf_counter()
        continuation_many(calls)
        batched.append(time.perf_counter() - began)
    tokenized = scorer.tokenize([p + c for p, cs in calls for c in cs]) if calls else []
    return {
        "load": load_seconds,
        "first": first,
        "totals": totals,
        "score": [s["score"] for s in splits],
        "continuation": [s["continuation"] for s in splits],
        "continuation_calls": len(calls),
        "continuation_candidates": sum(len(cs) for _, cs in calls),
        "continuation_tokens_if_unshared": sum(len(t[0]) for t in tokenized),
        "sequential": sequential,
        "batched": batched,
        "findings": [[f.code, f.start, f.end] for f in report.findings],
        "threads": scorer._threads.chosen,
        "precision": scorer.engine.precision if scorer.engine is not None else "float32",
    }


def worker_heuristics(spec: dict[str, Any]) -> dict[str, Any]:
    from mtcheck.config import Config
    from mtcheck.pipeline import Checker

    documents = json.loads(Path(spec["documents"]).read_text(encoding="utf-8"))
    size = sum(len(text.encode("utf-8")) for text in documents)
    checker = Checker(Config(lm=False))
    checker.check_many([(documents[0], "warm-up")])
    began = time.perf_counter()
    report = checker.check_many([(text, f"doc{i}") for i, text in enumerate(documents)])
    seconds = time.perf_counter() - began
    return {
        "bytes": size,
        "seconds": seconds,
        "mb_per_s": size / seconds / 1e6,
        "findings": len(report.findings),
        "torch_imported": "torch" in sys.modules,
    }


def worker_experiments(spec: dict[str, Any]) -> dict[str, Any]:
    """Opt-in bf16 matrix products and dynamic int8: speed, deviation, BLiMP agreement."""
    import dataclasses
    import warnings

    import numpy as np
    import torch

    from mtcheck.lm.models import load_model
    from mtcheck.lm.scorer import Scorer

    warnings.filterwarnings("ignore")
    texts = json.loads(Path(spec["texts"]).read_text(encoding="utf-8"))
    pairs = [tuple(p) for p in json.loads(Path(spec["pairs"]).read_text(encoding="utf-8"))]
    loaded = load_model(device="cpu")

    def measure(scorer: Scorer) -> dict[str, Any]:
        scorer.score(texts[:8])
        best, scores = float("inf"), None
        for _ in range(spec["passes"]):
            began = time.perf_counter()
            scores = scorer.score(texts)
            best = min(best, time.perf_counter() - began)
        flat = [s.total_logprob for s in scorer.score([t for pair in pairs for t in pair])]
        return {
            "rate": sum(len(s) for s in scores) / best,
            "logprobs": [s.logprobs for s in scores],
            "prefers_good": [good > bad for good, bad in zip(flat[::2], flat[1::2])],
        }

    runs = {"float32": measure(Scorer(loaded)), "bf16": measure(Scorer(loaded, precision="bf16"))}
    heavy = dataclasses.replace(loaded, weights=None)  # the transformers modules, to quantize them
    torch.ao.quantization.quantize_dynamic(
        heavy.model.model.layers,
        {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
        inplace=True,
    )
    runs["int8_dynamic"] = measure(Scorer(heavy, engine="flat"))
    reference = runs["float32"]
    out: dict[str, Any] = {"pairs": len(pairs)}
    for name, run in runs.items():
        deltas = np.concatenate([np.abs(a - b) for a, b in zip(run["logprobs"], reference["logprobs"])])
        out[name] = {
            "tokens_per_s": run["rate"],
            "max_abs_delta": float(deltas.max()),
            "mean_abs_delta": float(deltas.mean()),
            "blimp_accuracy": float(np.mean(run["prefers_good"])),
            "blimp_agreement_with_float32": float(
                np.mean([a == b for a, b in zip(run["prefers_good"], reference["prefers_good"])])
            ),
        }
    return out


WORKERS = {
    "naive": worker_naive,
    "scorer": worker_scorer,
    "peak": worker_peak,
    "load": worker_load,
    "warm": worker_warm,
    "heuristics": worker_heuristics,
    "experiments": worker_experiments,
}


# ------------------------------------------------------------------------------ the parent


# OpenMP wait settings compared in the experiments: mtcheck's default and the two alternatives.
OPENMP_WAITS = {
    "short spin (mtcheck's default)": dict(SHORT_SPIN),
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=300000 (libgomp's own default)": {"GOMP_SPINCOUNT": "300000"},
}


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU meanwhile: a machine shared with other busy jobs."""
    spinners = [subprocess.Popen([PY, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


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


def agreement(naive_file: str, scorer_file: str) -> float:
    import numpy as np

    a, b = np.load(naive_file), np.load(scorer_file)
    return float(max(np.abs(a[k] - b[k]).max(initial=0.0) for k in a.files))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    passes = 2
    rounds = args.rounds or (1 if quick else 2)
    work = Path(tempfile.mkdtemp(prefix="mtcheck-bench-"))
    texts = sample_paragraphs() + news_paragraphs(12 if quick else 30)
    texts_file = work / "texts.json"
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()},
        "load_before": loadavg(),
        "texts": len(texts),
    }
    say = (lambda message: print(message, file=sys.stderr, flush=True)) if not args.silent else (lambda m: None)

    say("matmul peak …")
    results["peak"] = run_worker("peak", {"reps": 3 if quick else 5}, dict(SHORT_SPIN))

    say("LM scoring: naive baseline and Scorer, alternating …")
    naive, naive_one, scorer = [], [], []
    saved = {"naive": str(work / "naive.npz"), "scorer": str(work / "scorer.npz")}
    last_scorer: dict[str, Any] = {}
    for round_index in range(rounds):
        first = round_index == 0
        spec = {"texts": str(texts_file), "passes": passes}
        naive.append(run_worker("naive", {**spec, "save": saved["naive"] if first else None}))
        last_scorer = run_worker("scorer", {**spec, "save": saved["scorer"] if first else None})
        scorer.append(last_scorer)
        if first:
            # Ablation: the naive baseline with mtcheck's thread settings (one thread, short OpenMP spin).
            naive_one.append(run_worker("naive", {**spec, "threads": 1}, dict(SHORT_SPIN)))
    packed = run_worker("scorer", {"texts": str(texts_file), "passes": passes, "attention": "packed"})
    via_transformers = run_worker("scorer", {"texts": str(texts_file), "passes": passes, "engine": "transformers"})
    naive_rate = median([r for w in naive for r in w["rates"]])
    scorer_rate = median([r for w in scorer for r in w["rates"]])
    parameters = last_scorer.get("parameters", PARAMETERS_FALLBACK)
    results["scoring"] = {
        "tokens": last_scorer["tokens"],
        "naive_tokens_per_s": naive_rate,
        "naive_one_thread_tokens_per_s": median([r for w in naive_one for r in w["rates"]]),
        "scorer_tokens_per_s": scorer_rate,
        "scorer_packed_tokens_per_s": median(packed["rates"]),
        "scorer_transformers_path_tokens_per_s": median(via_transformers["rates"]),
        "speedup": scorer_rate / naive_rate,
        "max_abs_delta_logprob": agreement(saved["naive"], saved["scorer"]),
        "tolerance": TOLERANCE,
        "scorer_threads": [w["threads"] for w in scorer],
        "naive_threads": naive[0]["threads"],
        "parameters": parameters,
        "gflop_per_token": 2 * parameters / 1e9,
        "scorer_gflops": scorer_rate * 2 * parameters / 1e9,
        "naive_gflops": naive_rate * 2 * parameters / 1e9,
        "transformers_imported_by_scorer": last_scorer["transformers_imported"],
    }
    results["scoring"]["within_tolerance"] = results["scoring"]["max_abs_delta_logprob"] <= TOLERANCE
    results["scoring"]["fraction_of_peak"] = results["scoring"]["scorer_gflops"] / results["peak"]["best"]

    say("model load from the cache …")
    light = [run_worker("load", {"light": True}) for _ in range(rounds)]
    heavy = run_worker("load", {"light": False})
    results["load"] = {
        "import_torch": median([w["import_torch"] for w in light]),
        "load_model_light": median([w["load_model"] for w in light]),
        "first_score_light": median([w["first_score"] for w in light]),
        "light_imports_transformers": any(w["transformers_imported"] for w in light),
        "import_transformers": heavy["import_transformers"],
        "load_model_transformers": heavy["load_model"],
    }

    say("sample article: cold CLI runs …")
    cold, rss = [], []
    for _ in range(rounds + (0 if quick else 1)):
        completed, wall, peak = run_measured(
            [PY, "-m", "mtcheck", "check", str(SAMPLE), "--format", "json"],
            fresh_environment(), 600,
        )
        if completed.returncode not in (0, 1):
            raise RuntimeError(f"mtcheck check failed: {completed.stderr[-2000:]}")
        cold.append(wall)
        rss.append(peak)
    cold_findings = json.loads(completed.stdout)
    help_run = [run_measured([PY, "-m", "mtcheck", "--help"], dict(os.environ), 60)[1] for _ in range(3)]
    no_lm = run_measured([PY, "-X", "importtime", "-m", "mtcheck", "check", "--no-lm", str(SAMPLE)], dict(os.environ), 120)
    results["cold"] = {
        "seconds": median(cold),
        "runs": cold,
        "max_rss_mb": max(rss),
        "help_seconds": median(help_run),
        "no_lm_imports_torch": any(
            re.search(r"\|\s+(torch|transformers)$", line.rstrip()) for line in no_lm[0].stderr.splitlines()
        ),
        "findings": sum(len(d["findings"]) for d in cold_findings.get("documents", [])),
    }

    say("sample article: warm checks …")
    warm = run_worker("warm", {"repeats": 3 if quick else 5})
    results["warm"] = {
        "first_check": warm["first"],
        "seconds": median(warm["totals"]),
        "runs": warm["totals"],
        "scoring_seconds": median(warm["score"]),
        "edit_verification_seconds": median(warm["continuation"]),
        "edit_verification_share": median(warm["continuation"]) / median(warm["totals"]),
        "continuation_calls": warm["continuation_calls"],
        "continuation_candidates": warm["continuation_candidates"],
        "continuation_tokens_if_unshared": warm["continuation_tokens_if_unshared"],
        "edit_verification_per_window_calls": median(warm["sequential"]),
        "edit_verification_one_batched_call": median(warm["batched"]),
        "threads": warm["threads"],
        "findings": warm["findings"],
        "max_rss_mb": warm["_max_rss_mb"],
    }

    say("heuristics only …")
    documents = [text for text, _ in _clean_news_documents()] + mqm_targets(2000 if quick else 8000)
    target = (1 if quick else 3) * 1_000_000
    corpus: list[str] = []
    while sum(len(t) for t in corpus) < target:
        corpus.extend(documents)
    documents_file = work / "documents.json"
    documents_file.write_text(json.dumps(corpus), encoding="utf-8")
    results["heuristics"] = run_worker("heuristics", {"documents": str(documents_file)})

    say("mtcheck gate …")
    results["gate"] = gate_runs(work, quick)

    if args.experiments or not quick:
        say("experiments: bf16 matrix products, dynamic int8 …")
        pairs_file = work / "pairs.json"
        pairs_file.write_text(json.dumps(blimp_pairs(3 if quick else 10)), encoding="utf-8")
        experiments = run_worker("experiments", {"texts": str(texts_file), "pairs": str(pairs_file), "passes": passes})
        bf16_warm = run_worker("warm", {"repeats": 2}, {"MTCHECK_LM_PRECISION": "bf16"})
        experiments["bf16"]["warm_seconds"] = median(bf16_warm["totals"])
        experiments["bf16"]["sample_findings_equal"] = bf16_warm["findings"] == warm["findings"]
        experiments["bf16"]["sample_findings"] = len(bf16_warm["findings"])
        say("experiments: OpenMP waits, idle and with every core busy elsewhere …")
        experiments["openmp"] = {}
        for label, env in OPENMP_WAITS.items():
            idle = run_worker("warm", {"repeats": 3}, env)
            with busy_cores(os.cpu_count() or 2):
                busy = run_worker("warm", {"repeats": 3}, env)
            experiments["openmp"][label] = {
                "idle_seconds": median(idle["totals"]), "busy_seconds": median(busy["totals"]),
                "busy_worst_seconds": max(busy["totals"]),
            }
        results["experiments"] = experiments

    results["load_after"] = loadavg()
    return results


def _clean_news_documents() -> list[tuple[str, str]]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from evaldata import clean_news_documents

    return clean_news_documents(NEWS)


def gate_runs(work: Path, quick: bool) -> dict[str, Any]:
    lines = mqm_targets(1500 if quick else 6000)
    small = lines[: 40 if quick else 150]
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
    return {
        "no_lm_segments": len(lines),
        "no_lm_segments_per_s": len(lines) / no_lm,
        "no_lm_jobs_segments_per_s": len(lines) / no_lm_jobs,
        "lm_segments": len(small),
        "lm_segments_per_s": len(small) / with_lm,
        "lm_warm_cache_segments_per_s": len(small) / with_lm_again,
        "note": "wall time of whole `mtcheck gate` processes, start-up and model load included",
    }


# ------------------------------------------------------------------------------ report


def markdown(results: dict[str, Any]) -> str:
    s, w, c, ld, g, h = (results[k] for k in ("scoring", "warm", "cold", "load", "gate", "heuristics"))
    peak = results["peak"]

    def row(metric: str, baseline: str, ours: str, ratio: str = "") -> str:
        return f"| {metric} | {baseline} | {ours} | {ratio} |"

    lines = [
        (
            f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores; load average "
            f"{results['load_before']} before, {results['load_after']} after ({results['mode']} run)."
        ),
        "",
        "| metric | naive baseline | mtcheck | ratio |",
        "|---|---|---|---|",
        row("LM scoring, tokens/s (same texts, median)", f"{s['naive_tokens_per_s']:.0f}",
            f"{s['scorer_tokens_per_s']:.0f}", f"{s['speedup']:.2f}x"),
        row("… naive with one thread, mtcheck's OpenMP settings", f"{s['naive_one_thread_tokens_per_s']:.0f}",
            f"{s['scorer_tokens_per_s']:.0f}", f"{s['scorer_tokens_per_s'] / s['naive_one_thread_tokens_per_s']:.2f}x"),
        row("… Scorer variants: packed attention / transformers path", "",
            f"{s['scorer_packed_tokens_per_s']:.0f} / {s['scorer_transformers_path_tokens_per_s']:.0f}", ""),
        row("max \\|Δ logprob\\| per token vs baseline", "", f"{s['max_abs_delta_logprob']:.1e} nats",
            f"tolerance {s['tolerance']:.0e}: {'ok' if s['within_tolerance'] else 'FAILED'}"),
        row(f"GFLOP/s at {s['gflop_per_token']:.3f} GFLOP/token (float32 matmul peak {peak['best']:.0f})",
            f"{s['naive_gflops']:.0f}", f"{s['scorer_gflops']:.0f}", f"{100 * s['fraction_of_peak']:.0f}% of peak"),
        row("sample article, cold `mtcheck check --format json` (new process)", "", f"{c['seconds']:.2f} s", ""),
        row("sample article, warm (reused Checker)", "", f"{w['seconds']:.2f} s",
            f"first call {w['first_check']:.2f} s"),
        row("… of which scoring / edit verification", "",
            f"{w['scoring_seconds']:.2f} s / {w['edit_verification_seconds']:.2f} s",
            f"{100 * w['edit_verification_share']:.0f}% edit verification"),
        row(f"edit verification: {w['continuation_calls']} per-window calls vs one batched call", "",
            f"{w['edit_verification_per_window_calls']:.2f} s / {w['edit_verification_one_batched_call']:.2f} s",
            f"{w['continuation_candidates']} candidates"),
        row("model load from the cache (after `import torch`)", f"{ld['load_model_transformers']:.2f} s (transformers)",
            f"{ld['load_model_light']:.2f} s (light)", f"{ld['load_model_transformers'] / ld['load_model_light']:.1f}x"),
        row("import torch / transformers", "", f"{ld['import_torch']:.2f} s / "
            f"{'not imported' if not ld['light_imports_transformers'] else 'imported'}", f"transformers: {ld['import_transformers']:.2f} s"),
        row("peak RSS, cold CLI / warm process", "", f"{c['max_rss_mb']:.0f} MB / {w['max_rss_mb']:.0f} MB", ""),
        row("`mtcheck --help` / does `check --no-lm` import torch?", "", f"{c['help_seconds']:.2f} s / "
            f"{'yes' if c['no_lm_imports_torch'] else 'no'}", ""),
        row("heuristics only (`lm=False`), MB/s", "", f"{h['mb_per_s']:.2f}",
            f"{h['bytes'] / 1e6:.1f} MB; torch imported: {h['torch_imported']}"),
        row(f"`mtcheck gate --no-lm`, segments/s ({g['no_lm_segments']} segments)", "",
            f"{g['no_lm_segments_per_s']:.0f}", f"--jobs {results['machine']['cores']}: {g['no_lm_jobs_segments_per_s']:.0f}"),
        row(f"`mtcheck gate` with the LM, segments/s ({g['lm_segments']} segments)", "",
            f"{g['lm_segments_per_s']:.1f}", f"warm cache: {g['lm_warm_cache_segments_per_s']:.0f}"),
    ]
    experiments = results.get("experiments")
    if experiments:
        for name, label in (("bf16", "opt-in bf16 matmuls"), ("int8_dynamic", "dynamic int8 (rejected)")):
            e = experiments[name]
            extra = ""
            if name == "bf16":
                extra = f"; sample findings {'unchanged' if e['sample_findings_equal'] else 'CHANGED'}"
            lines.append(
                row(f"{label}: tokens/s, \\|Δ logprob\\| max / mean", f"{experiments['float32']['tokens_per_s']:.0f} (float32)",
                    f"{e['tokens_per_s']:.0f}; {e['max_abs_delta']:.2f} / {e['mean_abs_delta']:.3f}",
                    f"BLiMP agreement {100 * e['blimp_agreement_with_float32']:.1f}% of {experiments['pairs']} pairs{extra}")
            )
        for label, e in experiments.get("openmp", {}).items():
            lines.append(row(f"warm sample check, OpenMP wait: {label}", "",
                             f"idle {e['idle_seconds']:.2f} s; cores busy {e['busy_seconds']:.2f} s",
                             f"worst busy run {e['busy_worst_seconds']:.2f} s"))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer texts and repeats (a few minutes)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating baseline/Scorer process rounds")
    parser.add_argument("--experiments", action="store_true", help="bf16 / int8 experiments in quick mode too")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--md", type=Path, default=None, help="write the Markdown table here")
    parser.add_argument("--silent", action="store_true", help="no progress on stderr")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--spec", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = WORKERS[args.worker](json.loads(args.spec))
        print(json.dumps(result, default=float))
        return
    results = measure(args)
    table = markdown(results)
    print(table)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=float) + "\n", encoding="utf-8")
    if args.md:
        args.md.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
