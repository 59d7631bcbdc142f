"""GPU benchmark of the detector on RANDOM weights of SmolLM2-135M's architecture: naive vs mtcheck's path.

    python scripts/gpu_bench.py                       # CUDA, full size (H100: ~1-2 minutes)
    python scripts/gpu_bench.py --compile             # also the torch.compile'd engine
    python scripts/gpu_bench.py --device cpu --tiny   # smoke test: tiny model, seconds

No weights or tokenizer are needed: the model is LlamaForCausalLM(config) with seeded random
weights (config = SmolLM2-135M: 30 layers, hidden 576, intermediate 1536, 9 heads, 3 KV heads,
vocab 49152, tied embeddings) and the texts are seeded random token ids with paragraph-like
lengths. The detector network is the shipped shape (frozen layers up to DEPTH, then one trained
layer, a bidirectional GRU and a head), freshly initialised. Measured, tokens/s over the same
sequences:

- naive: transformers' forward over padded batches of 8 in input order, bfloat16, every layer
  run (output_hidden_states), the state after DEPTH layers taken, then the network;
- mtcheck: LlamaEngine.states over flat rows (no padding in any matrix product, length buckets
  for attention), bfloat16, only DEPTH layers, then the network on padded batches; optionally
  with torch.compile'd elementwise kernels.

Numerics, on a few short sequences: the engine's states in float32 against transformers' hidden
states in float32 (max |Δ| relative to the states' scale must stay under 1e-3), and bfloat16
against float32 (reported).
Writes a JSON summary (--out) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

SMOLLM2_135M = {
    "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
    "num_attention_heads": 9, "num_key_value_heads": 3, "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "tie_word_embeddings": True,
}
TINY = {
    "vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True,
}
TOLERANCE = 1e-3


DEPTH = {"tiny": 1, "full": 12}


def build_model(config_values: dict[str, Any], device: str, dtype: Any, seed: int = 0, init_range: float = 0.02) -> Any:
    from transformers import LlamaConfig

    from mtcheck.lm.testing import seeded_llama

    config = LlamaConfig(**config_values, initializer_range=init_range, bos_token_id=None, eos_token_id=0,
                         pad_token_id=0, attention_bias=False, mlp_bias=False)
    return seeded_llama(config, seed).to(device=device, dtype=dtype)


def random_sequences(count: int, shortest: int, longest: int, vocab: int, seed: int = 1) -> list[list[int]]:
    """Token-id paragraphs with lengths spread like news paragraphs (log-uniform), seeded."""
    import random

    rng = random.Random(seed)
    lengths = [int(math.exp(rng.uniform(math.log(shortest), math.log(longest)))) for _ in range(count)]
    return [[rng.randrange(1, vocab) for _ in range(n)] for n in lengths]


def naive_states(model: Any, sequences: list[list[int]], depth: int, device: str, batch: int = 8) -> list[Any]:
    """The baseline: padded batches in input order, every layer run, the state after ``depth`` layers."""
    import torch

    out = []
    for begin in range(0, len(sequences), batch):
        chunk = [[0, *s] for s in sequences[begin : begin + batch]]
        length = max(len(s) for s in chunk)
        ids = torch.zeros((len(chunk), length), dtype=torch.long)
        mask = torch.zeros((len(chunk), length), dtype=torch.long)
        for row, s in enumerate(chunk):
            ids[row, : len(s)] = torch.tensor(s)
            mask[row, : len(s)] = 1
        with torch.inference_mode():
            states = model(input_ids=ids.to(device), attention_mask=mask.to(device), output_hidden_states=True).hidden_states[depth]
        out.extend(states[row, : len(s)] for row, s in enumerate(chunk))
    return out


def engine_states(engine: Any, sequences: list[list[int]], depth: int, flat_tokens: int, surprisal: bool = False) -> list[Any]:
    """mtcheck's path: flat rows of up to ``flat_tokens`` tokens per pass (the whole model and the
    surprisal columns when ``surprisal``)."""
    out, batch, size = [], [], 0
    for sequence in sequences + [None]:
        if batch and (sequence is None or size + len(sequence) + 1 > flat_tokens):
            flat = engine.states(batch, depth, surprisal)
            cursor = 0
            for row in batch:
                out.append(flat[cursor : cursor + len(row)])
                cursor += len(row)
            batch, size = [], 0
        if sequence is not None:
            batch.append([0, *sequence])
            size += len(sequence) + 1
    return out


def score(net: Any, states: list[Any], device: str, batch: int = 64) -> list[Any]:
    """The detector network's per-token probabilities over padded batches of states."""
    import torch

    from mtcheck.fluency.network import padded

    out = []
    for begin in range(0, len(states), batch):
        chunk = states[begin : begin + batch]
        rows, lengths = padded(chunk)
        with torch.inference_mode():
            probs = torch.sigmoid(net(rows.to(device), lengths))
        out.extend(probs[row, : len(s)].cpu() for row, s in enumerate(chunk))
    return out


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(function: Any, device: str, repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` runs (after one warm-up) and the last result."""
    result = function()
    best = math.inf
    for _ in range(repeats):
        synchronize(device)
        began = time.perf_counter()
        result = function()
        synchronize(device)
        best = min(best, time.perf_counter() - began)
    return best, result


def peak_memory(device: str) -> float | None:
    import torch

    if device.startswith("cuda"):
        value = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
        return value
    return None


def network(engine: Any, depth: int, device: str, features: bool = False) -> Any:
    from mtcheck.fluency.network import initialised, shape_for
    from mtcheck.lm.engine import SURPRISAL_COLUMNS

    top = min(2, len(engine.layers) - depth)  # the shipped two trained layers (one on the tiny model)
    shape = shape_for(engine, depth, top=top, gru=128, features=SURPRISAL_COLUMNS if features else 0)
    return initialised(engine, shape, seed=0).to(device).eval()


def numerics(config_values: dict[str, Any], depth: int, device: str) -> dict[str, float]:
    """Engine vs transformers states in float32, and bfloat16 engine vs float32, on short sequences."""
    import torch

    from mtcheck.lm.engine import LlamaEngine

    model32 = build_model(config_values, device, torch.float32, init_range=0.2)
    model16 = build_model(config_values, device, torch.bfloat16, init_range=0.2)
    sequences = random_sequences(6, 8, 48, config_values["vocab_size"], seed=7)
    reference = naive_states(model32, sequences, depth, device)
    got32 = engine_states(LlamaEngine.from_model(model32), sequences, depth, 4096)
    got16 = engine_states(LlamaEngine.from_model(model16), sequences, depth, 4096)
    scale = max(float(r.abs().max()) for r in reference)
    delta32 = max(float((a - b).abs().max()) for a, b in zip(reference, got32)) / scale
    delta16 = [float((a - b.float()).abs().mean()) / scale for a, b in zip(reference, got16)]
    return {
        "float32_engine_vs_transformers_max": delta32,
        "bf16_engine_vs_float32_mean": sum(delta16) / len(delta16),
        "state_scale": scale,
    }


DTYPES = {"bf16": "bfloat16", "fp32": "float32"}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from mtcheck.lm.engine import LlamaEngine

    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_bench: CUDA is not available (use --device cpu --tiny for the smoke test)")
    config_values = TINY if args.tiny else SMOLLM2_135M
    depth = DEPTH["tiny" if args.tiny else "full"]
    count = args.sequences or (12 if args.tiny else 512)
    sequences = random_sequences(count, 8 if args.tiny else 24, 64 if args.tiny else 256, config_values["vocab_size"])
    tokens = sum(len(s) + 1 for s in sequences)
    flats = args.flat_tokens or ([16384] if device.startswith("cuda") else [4096])
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        "config": "tiny" if args.tiny else "SmolLM2-135M (random weights)",
        "depth": depth, "sequences": count, "tokens": tokens, "torch": torch.__version__, "runs": [],
    }

    def measure(dtype: str, path: str, flat: int | None, work: Any) -> dict[str, Any]:
        peak_memory(device)
        seconds, _ = timed(work, device, args.repeats)
        row = {"dtype": dtype, "path": path, "flat_tokens": flat, "tokens_per_s": tokens / seconds, "peak_mib": peak_memory(device)}
        results["runs"].append(row)
        return row

    for name in args.dtypes:
        dtype = getattr(torch, DTYPES[name])
        model = build_model(config_values, device, dtype)
        engine = LlamaEngine.from_model(model)
        net = network(engine, depth, device)
        surprisal_net = network(engine, depth, device, features=True)
        measure(name, "naive", None, lambda: score(net, naive_states(model, sequences, depth, device), device))
        for flat in flats:
            measure(name, "mtcheck", flat, lambda: score(net, engine_states(engine, sequences, depth, flat), device))
        for flat in flats:
            measure(name, "mtcheck+surprisal", flat,
                    lambda: score(surprisal_net, engine_states(engine, sequences, depth, flat, surprisal=True), device))
        if args.compile:
            compiled = LlamaEngine.from_model(model)
            compiled.compile()
            measure(name, "mtcheck+compile", flats[-1],
                    lambda: score(net, engine_states(compiled, sequences, depth, flats[-1]), device))
    first = args.dtypes[0]
    best = lambda path: max((r for r in results["runs"] if r["dtype"] == first and r["path"] == path),  # noqa: E731
                            key=lambda r: r["tokens_per_s"])
    results["naive"], results["mtcheck"] = best("naive"), best("mtcheck")
    results["speedup"] = results["mtcheck"]["tokens_per_s"] / results["naive"]["tokens_per_s"]
    results["numerics"] = numerics(config_values, depth, device)
    results["numerics_ok"] = results["numerics"]["float32_engine_vs_transformers_max"] <= TOLERANCE
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        (
            f"Device: {results['device']}, {results['config']}, {results['sequences']} sequences, "
            f"{results['tokens']} tokens, torch {results['torch']}."
        ),
        "",
        "| precision | path | tokens per pass | tokens/s | peak GPU memory (MiB) |",
        "|---|---|---|---|---|",
    ]
    labels = {"naive": "naive (padded batches of 8, every layer)", "mtcheck": "mtcheck engine",
              "mtcheck+surprisal": "mtcheck engine, whole model + surprisal", "mtcheck+compile": "mtcheck engine + torch.compile"}
    for row in results["runs"]:
        memory = row["peak_mib"]
        flat = "" if row["flat_tokens"] is None else str(row["flat_tokens"])
        lines.append(f"| {row['dtype']} | {labels[row['path']]} | {flat} | {row['tokens_per_s']:.0f} | {'' if memory is None else f'{memory:.0f}'} |")
    n = results["numerics"]
    lines += [
        "",
        (
            f"Speed-up {results['speedup']:.2f}x ({results['runs'][0]['dtype']}, best batching). Numerics: float32 engine vs "
            f"transformers, max |Δ state| / scale "
            f"{n['float32_engine_vs_transformers_max']:.1e} ({'ok' if results['numerics_ok'] else 'FAILED'}, "
            f"tolerance {TOLERANCE:.0e}); bfloat16 engine vs float32: mean {n['bf16_engine_vs_float32_mean']:.4f} of the scale."
        ),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model (smoke test)")
    parser.add_argument("--sequences", type=int, default=None, help="number of random paragraphs")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path (best is kept)")
    parser.add_argument("--compile", action="store_true", help="also time the torch.compile'd engine")
    parser.add_argument("--dtypes", type=lambda v: v.split(","), default=["bf16"], help="bf16 and/or fp32, comma-separated (default bf16)")
    parser.add_argument("--flat-tokens", type=lambda v: [int(x) for x in v.split(",")], default=None,
                        help="tokens per engine pass, comma-separated (default 16384 on CUDA, 4096 on the CPU)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON summary here")
    args = parser.parse_args(argv)
    results = run(args)
    print(markdown(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if not results["numerics_ok"]:
        raise SystemExit("gpu_bench: the engine does not match transformers in float32")
    return results


if __name__ == "__main__":
    main()
