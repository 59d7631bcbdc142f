"""GPU scoring benchmark on RANDOM weights of SmolLM2-135M's architecture: naive vs mtcheck's path.

    python scripts/gpu_bench.py                       # CUDA, full size (H100: ~1-2 minutes)
    python scripts/gpu_bench.py --compile             # also the torch.compile'd engine
    python scripts/gpu_bench.py --device cpu --tiny   # smoke test: tiny model, seconds

No weights or tokenizer are needed: the model is LlamaForCausalLM(config) with seeded random
weights (config = SmolLM2-135M: 30 layers, hidden 576, intermediate 1536, 9 heads, 3 KV heads,
vocab 49152, tied embeddings) and the texts are seeded random token ids with paragraph-like
lengths. Measured, tokens/s over the same sequences:

- naive: transformers' forward over padded batches of 8 in input order, bfloat16, then the
  bfloat16 logits of the whole batch made float32 for a full log-softmax and a gather;
- mtcheck: Scorer.score_ids on LlamaEngine: rows packed flat (no padding in any matrix product,
  length buckets for attention), bfloat16, up to FLAT_TOKENS_GPU tokens per pass, and the
  vocabulary projection in float32 for HEAD_CHUNK_GPU rows at a time (never [batch, vocab]),
  fused with the log-softmax statistics; optionally with torch.compile'd elementwise kernels.

Numerics, on a few short sequences: the engine in float32 against transformers in float32
(must agree within 1e-3 nats), and the bfloat16 engine against float32 (reported).
Writes a JSON summary (--out) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


class _IdsTokenizer:
    """What Scorer needs from a tokenizer when it only scores token ids: the start token."""

    bos_token_id = None
    eos_token_id = 0

    def get_vocab(self) -> dict[str, int]:
        return {"<|endoftext|>": 0}


def build_model(config_values: dict[str, Any], device: str, dtype: Any, seed: int = 0, init_range: float = 0.02) -> Any:
    from transformers import LlamaConfig

    from mtcheck.lm.testing import seeded_llama

    config = LlamaConfig(**config_values, initializer_range=init_range, bos_token_id=None, eos_token_id=0,
                         pad_token_id=0, attention_bias=False, mlp_bias=False)
    return seeded_llama(config, seed).to(device=device, dtype=dtype)


def loaded_model(model: Any, device: str, dtype: Any) -> Any:
    from mtcheck.lm.models import LoadedModel

    return LoadedModel(model, _IdsTokenizer(), device, dtype, "random-llama", int(model.config.max_position_embeddings))


def random_sequences(count: int, shortest: int, longest: int, vocab: int, seed: int = 1) -> list[list[int]]:
    """Token-id paragraphs with lengths spread like news paragraphs (log-uniform), seeded."""
    import random

    rng = random.Random(seed)
    lengths = [int(math.exp(rng.uniform(math.log(shortest), math.log(longest)))) for _ in range(count)]
    return [[rng.randrange(1, vocab) for _ in range(n)] for n in lengths]


def naive_logprobs(model: Any, sequences: list[list[int]], device: str, batch: int = 8) -> list[Any]:
    """The baseline: padded batches in input order, whole-batch float32 logits, log-softmax, gather."""
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
        ids, mask = ids.to(device), mask.to(device)
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=mask).logits
            logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)
        out.extend(logprobs[row, : len(s) - 1].float().cpu() for row, s in enumerate(chunk))
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


def numerics(config_values: dict[str, Any], device: str) -> dict[str, float]:
    """Engine vs transformers in float32, and bfloat16 engine vs float32, on short sequences."""
    import numpy as np
    import torch

    from mtcheck.lm.scorer import Scorer

    # A larger initializer range gives peaked, context-dependent predictions worth comparing.
    model32 = build_model(config_values, device, torch.float32, init_range=0.2)
    sequences = random_sequences(6, 8, 48, config_values["vocab_size"], seed=7)
    reference = [r.numpy() for r in naive_logprobs(model32, sequences, device)]
    engine32 = Scorer(loaded_model(model32, device, torch.float32), engine="flat").score_ids(sequences)
    model16 = build_model(config_values, device, torch.bfloat16, init_range=0.2)
    engine16 = Scorer(loaded_model(model16, device, torch.bfloat16), engine="flat").score_ids(sequences)
    delta32 = np.concatenate([np.abs(a - b.logprobs) for a, b in zip(reference, engine32)])
    delta16 = np.concatenate([np.abs(a - b.logprobs) for a, b in zip(reference, engine16)])
    return {
        "float32_engine_vs_transformers_max": float(delta32.max()),
        "bf16_engine_vs_float32_max": float(delta16.max()),
        "bf16_engine_vs_float32_mean": float(delta16.mean()),
        "logprob_spread": float(np.ptp(np.concatenate(reference))),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_bench: CUDA is not available (use --device cpu --tiny for the smoke test)")
    config_values = TINY if args.tiny else SMOLLM2_135M
    count = args.sequences or (12 if args.tiny else 512)
    longest = 64 if args.tiny else 512
    sequences = random_sequences(count, 8 if args.tiny else 24, longest, config_values["vocab_size"])
    tokens = sum(len(s) for s in sequences)
    dtype = torch.bfloat16
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        "config": "tiny" if args.tiny else "SmolLM2-135M (random weights)",
        "sequences": count,
        "tokens": tokens,
        "dtype": "bfloat16",
        "torch": torch.__version__,
    }
    from mtcheck.lm.scorer import Scorer

    model = build_model(config_values, device, dtype)
    peak_memory(device)
    seconds, _ = timed(lambda: naive_logprobs(model, sequences, device), device, args.repeats)
    results["naive"] = {"tokens_per_s": tokens / seconds, "peak_mib": peak_memory(device)}

    scorer = Scorer(loaded_model(model, device, dtype), engine="flat")
    seconds, _ = timed(lambda: scorer.score_ids(sequences), device, args.repeats)
    results["mtcheck"] = {"tokens_per_s": tokens / seconds, "peak_mib": peak_memory(device),
                          "flat_tokens": scorer.flat_tokens}
    if args.compile:
        compiled = Scorer(loaded_model(model, device, dtype), engine="flat")
        assert compiled.engine is not None
        compiled.engine.compile()
        seconds, fused = timed(lambda: compiled.score_ids(sequences), device, args.repeats)
        plain = scorer.score_ids(sequences)
        results["mtcheck_compiled"] = {
            "tokens_per_s": tokens / seconds,
            "peak_mib": peak_memory(device),
            "max_abs_delta_vs_eager": max(float(abs(a.logprobs - b.logprobs).max()) for a, b in zip(plain, fused)),
        }
    results["speedup"] = results["mtcheck"]["tokens_per_s"] / results["naive"]["tokens_per_s"]
    results["numerics"] = numerics(config_values, device)
    results["numerics_ok"] = results["numerics"]["float32_engine_vs_transformers_max"] <= TOLERANCE
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        (
            f"Device: {results['device']}, {results['config']}, {results['sequences']} sequences, "
            f"{results['tokens']} tokens, {results['dtype']}, torch {results['torch']}."
        ),
        "",
        "| path | tokens/s | peak GPU memory (MiB) |",
        "|---|---|---|",
    ]
    for key, label in (("naive", "naive (padded batches of 8, float32 logits)"), ("mtcheck", "mtcheck engine"),
                       ("mtcheck_compiled", "mtcheck engine + torch.compile")):
        if key in results:
            memory = results[key]["peak_mib"]
            lines.append(f"| {label} | {results[key]['tokens_per_s']:.0f} | {'' if memory is None else f'{memory:.0f}'} |")
    n = results["numerics"]
    lines += [
        "",
        (
            f"Speed-up {results['speedup']:.2f}x. Numerics: float32 engine vs transformers max |Δ logprob| "
            f"{n['float32_engine_vs_transformers_max']:.1e} ({'ok' if results['numerics_ok'] else 'FAILED'}, "
            f"tolerance {TOLERANCE:.0e}); bfloat16 engine vs float32: max {n['bf16_engine_vs_float32_max']:.3f}, "
            f"mean {n['bf16_engine_vs_float32_mean']:.4f} nats."
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
