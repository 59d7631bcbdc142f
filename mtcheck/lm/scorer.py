"""Score text token by token with a causal language model.

``Scorer.score(paragraphs)`` returns, for every token of every paragraph, its natural-log
probability given a start token and all the text before it in the same paragraph (so each
sentence is scored with its preceding context), the entropy of the model's prediction at that
point and, on request, a hidden state.

Offsets (``starts``/``ends``) are character indices into the text that was given, with these
conventions (byte-level BPE glues a word's leading space to the word, and may split one
character's UTF-8 bytes over several tokens):

- a token's leading whitespace is moved out of its span into the gap before it, so
  ``text[start:end]`` is the word or punctuation itself (``"Ġcat"`` → ``"cat"``); a token that is
  only whitespace (``"Ċ"``, a second space) keeps its whitespace as its span;
- tokens that carry parts of the same character all get that character's span, so a word's
  probability is the sum over every token overlapping it;
- a token with no characters at all (rare) gets a zero-width span where the previous one ended;
- ``starts`` and ``ends`` never decrease, and every non-space character is inside some span.

Long paragraphs (over ``max_tokens`` tokens, or the model's context) are scored in windows: each
later window repeats the previous ``context_tokens`` tokens as context and emits only new tokens.

Speed (docs/performance.md): Llama-architecture models (the packaged SmolLM2) run through
:class:`LlamaEngine`, a forward pass over *flat* token rows: every linear layer sees only real
tokens (no padding), attention pads only inside its own small kernel, the vocabulary projection
is chunked and fused with the log-softmax statistics, the state of a paragraph's last token is not
computed (it predicts nothing), and ``continuation_logprob`` runs the text its candidates share
once, keeping its attention cache for the next call. Other architectures use transformers'
forward with length-bucketed batches. Both give the same numbers as a plain full forward pass
(within float rounding, ~1e-5 nats).
"""

from __future__ import annotations

import inspect
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Self

import numpy as np

from mtcheck.lm.models import LMError, LoadedModel

# Rows of the vocabulary projection computed at once. Each chunk streams the whole [vocab, hidden]
# weight (113 MB for SmolLM2) through the cache once, so larger chunks read it less often:
# measured on 1,500 rows, 1,024-row chunks took 292 ms vs 360 ms for 256-row chunks.
HEAD_CHUNK = 1024
# On GPUs the whole vocabulary is projected at once for this many rows ([1024, vocab] float32 is
# 200 MB for SmolLM2): never the float32 logits of a whole batch.
HEAD_CHUNK_GPU = 1024
# Vocabulary columns projected at once on CPU: [HEAD_CHUNK, VOCAB_BLOCK] float32 is 4 MB, small
# enough for the softmax statistics to find it in the cache (see Scorer._token_stats); 2,048
# columns with 1,024 rows was 25% slower.
VOCAB_BLOCK = 1024
# Real tokens per LlamaEngine forward pass: large enough for efficient matrix products, small
# enough that the activations stay in the tens of MB.
FLAT_TOKENS = 2048
FLAT_TOKENS_GPU = 16384
# Tokens of attention cache kept between calls: the paragraphs of a small score() call and the
# shared starts of continuation_logprob (SmolLM2-135M: 46 KB per token in float32, ~94 MB at most).
PREFIX_CACHE_TOKENS = 2048
PREFIX_CACHE_ENTRIES = 64
# New tokens per continuation tree pass: a tree attends densely (nodes x nodes), which past a few
# hundred nodes costs more than a second pass.
TREE_NODES = 384
# New tokens of all trees run side by side in one pass (trees of different paragraphs each keep
# their own attention, but share the matrix products).
FOREST_NODES = 1024
FOREST_NODES_GPU = 8192
# Attention pads rows of one bucket to its longest row: at most this many slots per real token.
PAD_SLACK = 1.25
# How often the CPU thread count is re-checked (see _ThreadTuner): soon after choosing one thread
# (a burst of load during the probe must not halve the speed for long), rarely after choosing all.
RETUNE_SECONDS = 15.0
RETUNE_ONE_THREAD_SECONDS = 2.0
PROBE_ROUNDS = 4
MANY_THREADS_GAIN = 0.75  # use all threads only when they take under 75% of one thread's time
THREADS_ENV = "MTCHECK_THREADS"
PRECISION_ENV = "MTCHECK_LM_PRECISION"
START_TOKEN_CANDIDATES = ("<|endoftext|>",)


@dataclass
class TokenScores:
    """Per-token scores of one text. All arrays have one entry per token, in text order."""

    text: str
    starts: np.ndarray  # int64 character offsets into ``text``
    ends: np.ndarray  # int64
    token_ids: np.ndarray  # int64
    logprobs: np.ndarray  # float32, natural log
    entropy: np.ndarray  # float32, nats
    hidden: np.ndarray | None = field(default=None, repr=False)  # float32 [n, d] when asked

    def __len__(self) -> int:
        return len(self.token_ids)

    def surface(self, index: int) -> str:
        return self.text[int(self.starts[index]) : int(self.ends[index])]

    @property
    def total_logprob(self) -> float:
        return float(self.logprobs.sum(dtype=np.float64))

    def span_logprob(self, start: int, end: int) -> float:
        """Summed logprob of the tokens overlapping ``text[start:end]`` (zero-width ones inside it)."""
        inside = (self.starts < end) & ((self.ends > start) | ((self.ends == self.starts) & (self.starts >= start)))
        return float(self.logprobs[inside].sum(dtype=np.float64))


@dataclass
class _Piece:
    """One model input: a start token plus token ids, of which the tail is emitted."""

    text_index: int
    ids: list[int]  # including the start token
    emit_from: int  # first index in ``ids`` whose token is scored (>= 1)
    out_start: int  # where that token sits in the text's token array


def clean_offsets(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Tokenizer offsets → monotonic spans following the conventions in the module docstring."""
    count = len(offsets)
    starts = np.empty(count, dtype=np.int64)
    ends = np.empty(count, dtype=np.int64)
    size = len(text)
    prev_start = prev_end = 0
    for i, (raw_start, raw_end) in enumerate(offsets):
        start = min(max(int(raw_start), 0), size)
        end = min(max(int(raw_end), start), size)
        if start == end:
            start = end = max(start, prev_end)
        else:
            piece = text[start:end]
            if not piece.isspace():
                start += len(piece) - len(piece.lstrip())
            start = max(start, prev_start)
            end = max(end, prev_end, start)
        starts[i], ends[i] = start, end
        prev_start, prev_end = start, end
    return starts, ends


def _backend_start_id(backend: Any, config: dict[str, Any]) -> int:
    """start_token_id for a Rust tokenizer plus config.json."""
    for token in START_TOKEN_CANDIDATES:
        token_id = backend.token_to_id(token)
        if token_id is not None:
            return int(token_id)
    for key in ("bos_token_id", "eos_token_id"):
        if isinstance(config.get(key), int):
            return int(config[key])
    raise LMError("the tokenizer has no <|endoftext|>, BOS or EOS token to start a text with")


def start_token_id(tokenizer: Any) -> int:
    """The id put before every text: the document separator the model was trained with."""
    vocab = tokenizer.get_vocab()
    for token in START_TOKEN_CANDIDATES:
        if token in vocab:
            return int(vocab[token])
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise LMError("the tokenizer has no <|endoftext|>, BOS or EOS token to start a text with")


# ---------------------------------------------------------------- CPU threads


class _ThreadTuner:
    """Runs the model with one CPU thread or all of them, whichever a quick timing says is faster.

    On a machine whose cores are busy with other processes, every OpenMP parallel region waits
    for its slowest, descheduled thread: two threads then run small matrix products two to three
    times slower than one. On an idle machine two threads are nearly twice as fast. So the choice
    is timed (tens of ms) on first use and again every RETUNE_SECONDS (RETUNE_ONE_THREAD_SECONDS
    after choosing one thread: a probe hit by a burst of load must not halve the speed of an
    idle machine for long). ``MTCHECK_THREADS`` or
    ``OMP_NUM_THREADS`` in the environment, or the Scorer's ``threads`` argument, fix the count.
    """

    def __init__(self, threads: int | None, device: Any) -> None:
        import torch

        if threads is None and os.environ.get(THREADS_ENV, "").strip().isdigit():
            threads = int(os.environ[THREADS_ENV])
        if threads is None and os.environ.get("OMP_NUM_THREADS"):
            threads = torch.get_num_threads()
        self.fixed = max(1, threads) if threads else None
        self.most = torch.get_num_threads()
        self.active = device.type == "cpu"
        self.chosen: int | None = self.fixed
        self.checked = -math.inf
        self.timings: tuple[float, float] | None = None  # last probe: (one thread, all threads) seconds

    @staticmethod
    def _time(threads: int, x: Any, w: Any) -> float:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        began = time.perf_counter()
        F.linear(x, w)
        return time.perf_counter() - began

    def threads(self) -> int | None:
        """The count to run with now (None: leave torch's setting alone)."""
        if not self.active:
            return None
        if self.fixed is not None or self.most <= 1:
            return self.fixed
        now = time.monotonic()
        if now - self.checked >= (RETUNE_ONE_THREAD_SECONDS if self.chosen == 1 else RETUNE_SECONDS):
            import torch

            before = torch.get_num_threads()
            generator = torch.Generator().manual_seed(0)
            x = torch.randn(256, 576, generator=generator)
            w = torch.randn(1536, 576, generator=generator)
            one, many = math.inf, math.inf
            try:
                # Alternate, and keep each side's best, so a burst of load hits both alike.
                for _ in range(PROBE_ROUNDS):
                    one = min(one, self._time(1, x, w))
                    many = min(many, self._time(self.most, x, w))
            finally:
                torch.set_num_threads(before)
            # More threads only when clearly faster: a wrong "many" costs far more than a wrong "one".
            self.chosen = self.most if many < MANY_THREADS_GAIN * one else 1
            self.timings = (one, many)
            self.checked = time.monotonic()
        return self.chosen

    def __enter__(self) -> Self:
        import torch

        self._before = torch.get_num_threads()
        wanted = self.threads()
        if wanted is not None and wanted != self._before:
            torch.set_num_threads(wanted)
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if torch.get_num_threads() != self._before:
            torch.set_num_threads(self._before)


# ---------------------------------------------------------------- the Llama engine


@dataclass
class EngineOutput:
    """What LlamaEngine.forward returns, rows concatenated in the order given."""

    final: Any  # [tokens, hidden] final normed states
    captured: Any = None  # [tokens, hidden] the states of the requested hidden layer
    cache: list[tuple[Any, Any]] | None = None  # per layer (keys, values) [1, kv_heads, past + tokens, head_dim]


def _per_device(device: Any, on_cpu: int, on_gpu: int) -> int:
    """The size measured for ``device``'s kind: CPUs want cache-sized work, GPUs large batches."""
    return on_cpu if device.type == "cpu" else on_gpu


def _head_chunk(device: Any) -> int:
    """Rows of the vocabulary projection computed at once on ``device``."""
    return _per_device(device, HEAD_CHUNK, HEAD_CHUNK_GPU)


def _rms_norm(x: Any, weight: Any, eps: float) -> Any:
    # transformers' LlamaRMSNorm: normalise in float32, cast back, then scale. torch's fused
    # rms_norm does the same operations in the same order (identical float32 results on the
    # CPU; tests compare the engine with transformers) about 5x faster than the separate ops.
    import torch
    import torch.nn.functional as F

    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    return weight * F.rms_norm(x.float(), (x.shape[-1],), None, eps).to(x.dtype)


def _swiglu(gate: Any, up: Any) -> Any:
    import torch.nn.functional as F

    return F.silu(gate, inplace=True).mul_(up)


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    # transformers: x * cos + cat(-x2, x1) * sin. Written without the concatenation; IEEE
    # arithmetic gives the same numbers (a + (-b) * c == a - b * c).
    half = x.shape[-1] // 2
    out = x * cos
    out[..., :half] -= x[..., half:] * sin[..., :half]
    out[..., half:] += x[..., :half] * sin[..., half:]
    return out


class LlamaEngine:
    """Forward pass of a Llama-architecture model over flat, unpadded token rows.

    Rows of different lengths are concatenated into one [tokens, hidden] matrix, so every linear
    layer multiplies only real tokens. Attention, whose cost is small at paragraph lengths, either
    scatters the rows into a padded [rows, heads, longest, head_dim] block ("bucket", the default)
    or runs one packed row with a block-diagonal causal mask ("packed"; its cost grows with the
    square of the pack, kept for comparison in scripts/bench.py). :meth:`forward_tree` runs a
    trie of token sequences (shared starts once) continuing a cached past, for edit verification.
    The weights are a light load's memory-mapped tensors or a transformers model's own modules
    (so quantized modules work too): nothing is copied.
    """

    ROPE_TYPES = ("default", "linear", "llama3")

    @staticmethod
    def unsupported(model: Any) -> str | None:
        """Why ``model`` cannot run on this engine, or None when it can."""
        config = getattr(model, "config", None)
        if getattr(config, "model_type", None) != "llama":
            return f"model type {getattr(config, 'model_type', None)!r} is not llama"
        if getattr(config, "hidden_act", "silu") != "silu":
            return f"activation {config.hidden_act!r}"
        if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
            return "biased projections"
        if int(getattr(config, "pretraining_tp", 1) or 1) != 1:
            return "pretraining_tp > 1"
        base = model.get_decoder() if hasattr(model, "get_decoder") else None
        if base is None or not all(hasattr(base, name) for name in ("embed_tokens", "layers", "norm", "rotary_emb")):
            return "no Llama decoder"
        rope_type = getattr(base.rotary_emb, "rope_type", "default")
        if rope_type not in LlamaEngine.ROPE_TYPES:
            return f"rope type {rope_type!r}"
        if getattr(base, "_hf_hook", None) is not None:
            return "an accelerate-dispatched model"
        return None

    def __init__(
        self,
        *,
        embed: Any,
        layers: list[tuple[Any, ...]],
        norm: tuple[Any, float],
        head: tuple[Any, Any],
        inv_freq: Any,
        rope_factor: float,
        heads: int,
        kv_heads: int,
        head_dim: int,
        attention: str = "bucket",
    ) -> None:
        """Use :meth:`from_model` (a transformers model) or :meth:`from_weights` (a light load).

        ``layers``: per layer (input norm weight, eps, q, k, v, o, post-attention norm weight,
        eps, gate, up, down), the projections being callables on [tokens, features].
        ``head``: (weight, bias) of the vocabulary projection.
        """
        if attention not in ("bucket", "packed"):
            raise ValueError(f"attention must be 'bucket' or 'packed', not {attention!r}")
        self.attention = attention
        self.embed = embed
        self.device, self.dtype = embed.device, embed.dtype
        self.layers = layers
        self.norm_weight, self.norm_eps = norm
        self.head_weight, self.head_bias = head
        self.inv_freq = inv_freq
        self.rope_factor = rope_factor
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.scaling = head_dim**-0.5
        self.hidden_size = int(embed.shape[1])
        self.precision = str(embed.dtype).replace("torch.", "")
        self._rope: tuple[Any, Any] | None = None
        self._norm, self._rotate, self._swiglu = _rms_norm, _rotate, _swiglu

    def compile(self, **options: Any) -> None:
        """torch.compile the elementwise parts (RMS norms, RoPE, SwiGLU) into fused kernels.

        Worth it on GPUs, where these are many small launches; the matrix products and
        attention already are single library calls. ``options`` go to torch.compile.
        """
        import torch
        import torch.nn.functional as F

        options.setdefault("dynamic", True)
        self._norm = torch.compile(_rms_norm, **options)
        self._rotate = torch.compile(_rotate, **options)
        self._swiglu = torch.compile(lambda gate, up: F.silu(gate) * up, **options)

    def use_bf16_matmuls(self) -> None:
        """Run the layers' matrix products in bfloat16 (weights converted once, float32 results).

        The residual stream, norms, attention and the vocabulary projection stay float32. On CPUs
        with AMX or AVX512-BF16 this is ~1.7x faster, at ~0.02 nats mean (~0.2 max) deviation per
        token: not exact, so opt-in (Scorer(precision="bf16") or MTCHECK_LM_PRECISION=bf16).
        """
        import torch

        def fast(projection: Any) -> Any:
            weight = getattr(projection, "keywords", {}).get("weight")
            if weight is None:
                weight = getattr(projection, "weight", None)
            if not isinstance(weight, torch.Tensor):
                return projection  # e.g. a quantized module: leave it
            low = weight.detach().to(torch.bfloat16)
            return lambda x: F.linear(x.to(torch.bfloat16), low).to(x.dtype)

        import torch.nn.functional as F

        self.layers = [
            tuple(fast(part) if index in (2, 3, 4, 5, 8, 9, 10) else part for index, part in enumerate(layer))
            for layer in self.layers
        ]
        self.precision = "bf16"

    @classmethod
    def from_model(cls, model: Any, attention: str = "bucket") -> LlamaEngine:
        """An engine on a transformers Llama model's own modules (quantized Linear modules work too)."""
        import torch

        reason = cls.unsupported(model)
        if reason is not None:
            raise LMError(f"{type(model).__name__} cannot run on LlamaEngine: {reason}")
        base = model.get_decoder()
        attn = base.layers[0].self_attn
        head = model.get_output_embeddings()
        layers = [
            (
                layer.input_layernorm.weight,
                float(layer.input_layernorm.variance_epsilon),
                layer.self_attn.q_proj,
                layer.self_attn.k_proj,
                layer.self_attn.v_proj,
                layer.self_attn.o_proj,
                layer.post_attention_layernorm.weight,
                float(layer.post_attention_layernorm.variance_epsilon),
                layer.mlp.gate_proj,
                layer.mlp.up_proj,
                layer.mlp.down_proj,
            )
            for layer in base.layers[: model.config.num_hidden_layers]
        ]
        engine = cls(
            embed=base.embed_tokens.weight,
            layers=layers,
            norm=(base.norm.weight, float(base.norm.variance_epsilon)),
            head=(head.weight, head.bias) if isinstance(head, torch.nn.Linear) else (None, None),
            inv_freq=base.rotary_emb.inv_freq.detach().to(base.embed_tokens.weight.device, dtype=torch.float32),
            rope_factor=float(getattr(base.rotary_emb, "attention_scaling", 1.0)),
            heads=int(model.config.num_attention_heads),
            kv_heads=int(model.config.num_key_value_heads),
            head_dim=int(attn.head_dim),
            attention=attention,
        )
        engine.scaling = float(attn.scaling)
        return engine

    @classmethod
    def from_weights(cls, weights: Any, attention: str = "bucket") -> LlamaEngine:
        """An engine on the tensors of a light load (mtcheck.lm.models.LlamaWeights)."""
        import functools

        import torch
        import torch.nn.functional as F

        config, tensors = weights.config, weights.tensors
        heads = int(config["num_attention_heads"])
        head_dim = int(config.get("head_dim") or int(config["hidden_size"]) // heads)
        eps = float(config.get("rms_norm_eps", 1e-6))
        rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
        base = float(rope.get("rope_theta", config.get("rope_theta", 10000.0)))
        embed = tensors["model.embed_tokens.weight"]
        # The expression transformers uses for default RoPE, so the tables are bit-identical.
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))

        def linear(name: str) -> Any:
            return functools.partial(F.linear, weight=tensors[name])

        layers = []
        for i in range(int(config["num_hidden_layers"])):
            prefix = f"model.layers.{i}."
            layers.append(
                (
                    tensors[prefix + "input_layernorm.weight"],
                    eps,
                    linear(prefix + "self_attn.q_proj.weight"),
                    linear(prefix + "self_attn.k_proj.weight"),
                    linear(prefix + "self_attn.v_proj.weight"),
                    linear(prefix + "self_attn.o_proj.weight"),
                    tensors[prefix + "post_attention_layernorm.weight"],
                    eps,
                    linear(prefix + "mlp.gate_proj.weight"),
                    linear(prefix + "mlp.up_proj.weight"),
                    linear(prefix + "mlp.down_proj.weight"),
                )
            )
        return cls(
            embed=embed,
            layers=layers,
            norm=(tensors["model.norm.weight"], eps),
            head=(tensors.get("lm_head.weight", embed), None),
            inv_freq=inv_freq.to(embed.device),
            rope_factor=1.0,
            heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=head_dim,
            attention=attention,
        )

    @property
    def num_hidden_states(self) -> int:
        """Like transformers' hidden_states: the embeddings plus one per layer (the last normed)."""
        return len(self.layers) + 1

    def _rope_tables(self, positions: Any) -> tuple[Any, Any]:
        """cos and sin [tokens, 1, head_dim] at ``positions``, computed as transformers does."""
        import torch

        needed = int(positions.max()) + 1 if positions.numel() else 1
        if self._rope is None or self._rope[0].shape[0] < needed:
            size = max(needed, 2 * (self._rope[0].shape[0] if self._rope else 256))
            steps = torch.arange(size, device=self.device).float()
            freqs = steps[:, None] * self.inv_freq[None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            self._rope = (
                (emb.cos() * self.rope_factor).to(self.dtype),
                (emb.sin() * self.rope_factor).to(self.dtype),
            )
        cos, sin = self._rope
        return cos[positions].unsqueeze(1), sin[positions].unsqueeze(1)

    def forward(self, rows: Sequence[Sequence[int]], capture: int | None = None, keep_cache: bool = False) -> EngineOutput:
        """Run ``rows`` of token ids, each a sequence of its own from position 0.

        ``capture`` (0 … len(layers)) also returns that hidden state: 0 the embeddings, i the
        output of layer i, len(layers) the final normed state. ``keep_cache`` returns each
        layer's flat keys and values [tokens, kv_heads, head_dim] (rows concatenated).
        """
        import torch

        lengths = [len(r) for r in rows]
        if not rows or min(lengths) < 1:
            raise ValueError("LlamaEngine.forward needs at least one row, and no empty row")
        ids = torch.tensor([token for row in rows for token in row], dtype=torch.long, device=self.device)
        positions = torch.cat([torch.arange(n) for n in lengths]).to(self.device)
        layout = _RowLayout(lengths, self.attention, self.device)
        layout.keeps_cache = keep_cache
        return self._run(ids, positions, layout, None, capture)

    def forward_tree(
        self,
        ids: Sequence[int],
        parents: Sequence[int],
        past: list[tuple[Any, Any]] | None = None,
        attach: Sequence[int] | None = None,
    ) -> EngineOutput:
        """Run a tree of tokens (a trie of sequences that share starts) continuing ``past``.

        Node i holds token ``ids[i]`` and follows node ``parents[i]`` (< i), or, when the parent
        is -1, the first ``attach[i]`` tokens of ``past`` (default: all of it). A node sees those
        past tokens and its own ancestors, nothing else, at position (its root's attach) + depth.
        Returns every node's final state and the attention cache of past + all nodes (slice it
        to a chain of nodes to keep a prefix).
        """
        return self.forward_forest([Tree(ids, parents, past, attach)])[0]

    def forward_forest(self, trees: Sequence[Tree]) -> list[EngineOutput]:
        """Run several token trees, each continuing its own past, in one pass.

        The matrix products see the nodes of all trees as one flat matrix (so many small trees
        cost about what one large one does); attention stays within each tree and its past.
        Returns one EngineOutput per tree, as ``forward_tree`` would have.
        """
        import torch

        if not trees:
            return []
        masks, positions, slices = [], [], []
        offset = 0
        for tree in trees:
            mask, position = _tree_layout(tree)
            masks.append(torch.from_numpy(mask).to(self.device))
            positions.append(position)
            slices.append((offset, offset + len(tree.ids)))
            offset += len(tree.ids)
        tokens = torch.tensor([token for tree in trees for token in tree.ids], dtype=torch.long, device=self.device)
        position_index = torch.from_numpy(np.concatenate(positions)).to(self.device)
        pasts = None
        if any(tree.past is not None for tree in trees):
            pasts = [[None if tree.past is None else tree.past[layer] for tree in trees] for layer in range(len(self.layers))]
        out = self._run(tokens, position_index, _ForestLayout(masks, slices), pasts, None)
        assert out.cache is not None
        return [
            EngineOutput(out.final[begin:end], None, [layer[index] for layer in out.cache])
            for index, (begin, end) in enumerate(slices)
        ]

    def _run(self, ids: Any, positions: Any, layout: Any, past: list[tuple[Any, Any]] | None,
             capture: int | None) -> EngineOutput:
        import torch.nn.functional as F

        tokens = ids.shape[0]
        cos, sin = self._rope_tables(positions)
        x = F.embedding(ids, self.embed)
        captured = x if capture == 0 else None
        cache: list[tuple[Any, Any]] | None = [] if layout.keeps_cache else None
        for index, (ln1, eps1, q_proj, k_proj, v_proj, o_proj, ln2, eps2, gate, up, down) in enumerate(self.layers):
            h = self._norm(x, ln1, eps1)
            q = self._rotate(q_proj(h).view(tokens, self.heads, self.head_dim), cos, sin)
            k = self._rotate(k_proj(h).view(tokens, self.kv_heads, self.head_dim), cos, sin)
            v = v_proj(h).view(tokens, self.kv_heads, self.head_dim)
            attended, kept = layout.attend(q, k, v, None if past is None else past[index], self.scaling)
            if cache is not None:
                cache.append(kept)
            x = x + o_proj(attended)
            h = self._norm(x, ln2, eps2)
            x = x + down(self._swiglu(gate(h), up(h)))
            if capture == index + 1 and capture < len(self.layers):
                captured = x
        final = self._norm(x, self.norm_weight, self.norm_eps)
        if capture == len(self.layers):
            captured = final
        return EngineOutput(final, captured, cache)


def _sdpa(q: Any, k: Any, v: Any, mask: Any, scale: float) -> Any:
    """Attention for [rows, heads, length, dim] blocks (causal when ``mask`` is None) → [rows, length, heads * dim]."""
    import torch.nn.functional as F

    rows, heads, length, dim = q.shape
    out = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=mask is None, scale=scale, enable_gqa=heads != k.shape[1]
    )
    return out.transpose(1, 2).reshape(rows, length, heads * dim)


class _RowLayout:
    """Independent rows concatenated in the flat matrix, and attention for them.

    "bucket" attention sorts the rows by length and cuts them into buckets whose padding stays
    under PAD_SLACK of their real tokens; each bucket is one padded, causal attention call
    (padded query slots attend to real keys, so no row is all-masked; they are dropped).
    "packed" runs all rows as one sequence with a block-diagonal causal mask.
    """

    keeps_cache = False

    def __init__(self, lengths: list[int], mode: str, device: Any) -> None:
        import torch

        self.mask = None
        self.buckets: list[tuple[int, int, Any, Any]] = []  # (rows, longest, flat index, padded index)
        if len(lengths) == 1:
            return
        if mode == "packed":
            segment = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths)).to(device)
            causal = torch.ones(len(segment), len(segment), dtype=torch.bool, device=device).tril()
            self.mask = causal & (segment[:, None] == segment[None, :])
            return
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        order = sorted(range(len(lengths)), key=lambda r: -lengths[r])
        members: list[int] = []
        for row in order + [-1]:
            if members and (
                row < 0
                or (len(members) + 1) * lengths[members[0]] > PAD_SLACK * (sum(lengths[m] for m in members) + lengths[row])
            ):
                longest = lengths[members[0]]
                flat = np.concatenate([np.arange(offsets[m], offsets[m + 1]) for m in members])
                padded = np.concatenate([np.arange(lengths[m]) + k * longest for k, m in enumerate(members)])
                self.buckets.append(
                    (len(members), longest, torch.from_numpy(flat).to(device), torch.from_numpy(padded).to(device))
                )
                members = []
            if row >= 0:
                members.append(row)

    def attend(self, q: Any, k: Any, v: Any, past: Any, scale: float) -> tuple[Any, tuple[Any, Any] | None]:
        """Attention output [tokens, heads * dim] for flat q [tokens, heads, dim], k and v."""
        tokens, heads, dim = q.shape
        kept = (k, v) if self.keeps_cache else None
        if not self.buckets:
            blocks = [x.unsqueeze(0).transpose(1, 2) for x in (q, k, v)]
            return _sdpa(*blocks, self.mask, scale).reshape(tokens, heads * dim), kept
        out = q.new_empty(tokens, heads * dim)
        for rows, longest, flat, padded in self.buckets:
            blocks = []
            for x in (q, k, v):
                block = x.new_zeros(rows * longest, *x.shape[1:])
                block.index_copy_(0, padded, x.index_select(0, flat))
                blocks.append(block.view(rows, longest, *x.shape[1:]).transpose(1, 2))
            result = _sdpa(*blocks, None, scale).reshape(rows * longest, heads * dim)
            out.index_copy_(0, flat, result.index_select(0, padded))
        return out, kept


@dataclass
class Tree:
    """A tree of tokens for LlamaEngine.forward_tree: node i holds ``ids[i]`` and follows node
    ``parents[i]`` (< i), or, at -1, the first ``attach[i]`` tokens of ``past`` (default: all)."""

    ids: Sequence[int]
    parents: Sequence[int]
    past: list[tuple[Any, Any]] | None = None  # per layer (keys, values) [1, kv_heads, length, head_dim]
    attach: Sequence[int] | None = None


def _tree_layout(tree: Tree) -> tuple[np.ndarray, np.ndarray]:
    """Which keys (past, then nodes) each node sees, and each node's position."""
    count = len(tree.ids)
    parents = tree.parents
    if count < 1 or len(parents) != count or any(not -1 <= p < i for i, p in enumerate(parents)):
        raise ValueError("forward_tree needs at least one node and parents that come before their children")
    start = 0 if tree.past is None else int(tree.past[0][0].shape[2])
    visible = np.zeros((count, start + count), dtype=bool)
    position = np.zeros(count, dtype=np.int64)
    for node, parent in enumerate(parents):
        if parent >= 0:
            visible[node] = visible[parent]
            position[node] = position[parent] + 1
        else:
            seen = start if tree.attach is None else int(tree.attach[node])
            if not 0 <= seen <= start:
                raise ValueError(f"node {node} attaches after {seen} past tokens, but the past has {start}")
            visible[node, :seen] = True
            position[node] = seen
        visible[node, start + node] = True
    return visible, position


class _ForestLayout:
    """Trees of tokens side by side in the flat matrix: tree t holds rows ``slices[t]`` and its
    nodes see their tree's past and their own ancestors (``masks[t]``, [nodes, past + nodes])."""

    keeps_cache = True

    def __init__(self, masks: list[Any], slices: list[tuple[int, int]]) -> None:
        self.masks, self.slices = masks, slices

    def attend(self, q: Any, k: Any, v: Any, past: list[tuple[Any, Any] | None] | None,
               scale: float) -> tuple[Any, list[tuple[Any, Any]]]:
        import torch

        _, heads, dim = q.shape
        outs, kept = [], []
        for index, ((begin, end), mask) in enumerate(zip(self.slices, self.masks)):
            qb, kb, vb = (x[begin:end].unsqueeze(0).transpose(1, 2) for x in (q, k, v))
            earlier = None if past is None else past[index]
            if earlier is not None:
                kb, vb = torch.cat([earlier[0], kb], dim=2), torch.cat([earlier[1], vb], dim=2)
            outs.append(_sdpa(qb, kb, vb, mask, scale).reshape(end - begin, heads * dim))
            kept.append((kb, vb))
        return (outs[0] if len(outs) == 1 else torch.cat(outs)), kept


# ---------------------------------------------------------------- prefix cache


@dataclass
class _Prefix:
    """A token sequence already run: its attention cache and its final states."""

    ids: tuple[int, ...]
    cache: list[tuple[Any, Any]]  # per layer [1, kv_heads, len, head_dim]
    final: Any  # [len, hidden]

    def head(self, count: int) -> _Prefix:
        """The first ``count`` tokens (causal: their states do not depend on what follows)."""
        if count == len(self.ids):
            return self
        return _Prefix(
            self.ids[:count], [(k[:, :, :count], v[:, :, :count]) for k, v in self.cache], self.final[:count]
        )


class _PrefixCache:
    """The few most recent prefixes, found by longest common start (thread-safe)."""

    def __init__(self, max_tokens: int = PREFIX_CACHE_TOKENS, max_entries: int = PREFIX_CACHE_ENTRIES) -> None:
        self.max_tokens, self.max_entries = max_tokens, max_entries
        self.entries: OrderedDict[tuple[int, ...], _Prefix] = OrderedDict()
        self.lock = threading.Lock()

    def longest(self, ids: Sequence[int]) -> _Prefix | None:
        """The longest cached start of ``ids`` (cut to what ``ids`` shares), or None."""
        entry, count = self.best(ids)
        return None if entry is None else entry.head(count)

    def best(self, ids: Sequence[int]) -> tuple[_Prefix | None, int]:
        """The entry sharing the longest start with ``ids``, and how many tokens it shares."""
        best, best_count = None, 0
        with self.lock:
            for key in self.entries:
                count = _common_prefix_length([key, ids])
                if count > best_count:
                    best, best_count = key, count
            if best is None:
                return None, 0
            self.entries.move_to_end(best)
            return self.entries[best], best_count

    def put(self, prefix: _Prefix) -> None:
        if len(prefix.ids) > self.max_tokens:
            return
        with self.lock:
            self.entries[prefix.ids] = prefix
            self.entries.move_to_end(prefix.ids)
            while len(self.entries) > self.max_entries or sum(len(k) for k in self.entries) > self.max_tokens:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


@dataclass
class _Continuation:
    """One continuation_logprob request, planned: what to run and where its answers go."""

    results: list[float]
    candidates: list[int] = field(default_factory=list)  # index into results, per sequence
    sequences: list[list[int]] = field(default_factory=list)  # start token + context + candidate
    scored_from: list[int] = field(default_factory=list)  # first input position that counts
    low: int = 0  # first text token of the context
    shared: int = 0  # text tokens before the candidates can differ


class _Forest:
    """Token trees waiting to run side by side: ``run`` is called with at most ``cap`` nodes."""

    def __init__(self, run: Any, cap: int) -> None:
        self._run, self.cap = run, cap
        self.trees: list[_TreePlan] = []

    def add(self, tree: _TreePlan) -> None:
        if self.trees and sum(len(t.ids) for t in self.trees) + len(tree.ids) > self.cap:
            self.run()
        self.trees.append(tree)

    def run(self) -> None:
        if self.trees:
            trees, self.trees = self.trees, []
            self._run(trees)


@dataclass
class _TreePlan:
    """Sequences of continuation requests as one token tree over a cached prefix."""

    members: list[tuple[_Continuation, int]]  # (request, sequence index)
    sequences: list[list[int]]
    have: list[int]  # per sequence: input positions the cached prefix holds
    past: _Prefix | None
    ids: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    attach: list[int] = field(default_factory=list)
    node_at: list[list[int]] = field(default_factory=list)  # per sequence: its node at each position past ``have``


# ---------------------------------------------------------------- the scorer


class Scorer:
    """Token log-probabilities, entropies and hidden states for paragraphs of text.

    ``engine``: "auto" runs Llama-architecture models on :class:`LlamaEngine` and anything else
    through transformers; "flat" insists on the engine; "transformers" never uses it.
    ``attention``: how the engine attends over rows of different lengths ("bucket" or "packed").
    ``threads``: CPU threads (default: 1 or all, timed; see _ThreadTuner).
    ``precision``: "float32" (default, exact) or "bf16" (opt-in bfloat16 matrix products on the
    engine, see LlamaEngine.use_bf16_matmuls); default from ``MTCHECK_LM_PRECISION``.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        batch_size: int = 8,
        max_tokens: int = 1024,
        context_tokens: int = 256,
        token_budget: int | None = None,
        engine: str = "auto",
        attention: str = "bucket",
        threads: int | None = None,
        precision: str | None = None,
    ) -> None:
        import torch

        if batch_size < 1 or max_tokens < 4 or context_tokens < 0:
            raise ValueError("batch_size must be >= 1, max_tokens >= 4 and context_tokens >= 0")
        if engine not in ("auto", "flat", "transformers"):
            raise ValueError(f"engine must be auto, flat or transformers, not {engine!r}")
        self.loaded = loaded
        self.device = torch.device(loaded.device)
        self.batch_size = batch_size
        # A window holds the start token plus window - 1 text tokens.
        self.window = max(4, min(max_tokens, loaded.max_positions))
        self.context_tokens = min(context_tokens, (self.window - 1) // 2)
        self.token_budget = token_budget or batch_size * self.window
        self._head_weight32: Any = None
        self._transformers_parts: tuple[Any, Any, str] | None = None

        self.engine: LlamaEngine | None = None
        light = loaded.weights if engine != "transformers" else None
        self._backend = None if light is None else light.tokenizer
        if light is not None:
            # A light load: the engine runs on its tensors, transformers is never imported.
            self.engine = LlamaEngine.from_weights(light, attention=attention)
            self._config: Any = SimpleNamespace(**light.config)
            self.start_id = _backend_start_id(self._backend, light.config)
        else:
            self._config = self.model.config
            self.start_id = start_token_id(self.tokenizer)
            self._parts()  # fail early when the model lacks a decoder or head
            if engine != "transformers":
                reason = LlamaEngine.unsupported(self.model)
                if reason is None:
                    self.engine = LlamaEngine.from_model(self.model, attention=attention)
                elif engine == "flat":
                    raise LMError(f"engine='flat' needs a Llama-architecture model: {reason}")
        precision = (precision or os.environ.get(PRECISION_ENV) or "float32").strip().lower()
        if precision not in ("float32", "bf16"):
            raise ValueError(f"precision must be float32 or bf16, not {precision!r}")
        if precision == "bf16":
            if self.engine is None:
                raise LMError("precision='bf16' needs the Llama engine")
            if self.engine.dtype == torch.float32:
                self.engine.use_bf16_matmuls()
        # Real tokens per engine pass (more on GPUs, where big passes hide launch overheads);
        # an explicit token_budget (a memory bound) lowers it.
        cap = _per_device(self.device, FLAT_TOKENS, FLAT_TOKENS_GPU)
        self.flat_tokens = min(token_budget, cap) if token_budget else cap
        self._threads = _ThreadTuner(threads, self.device)
        self._prefixes = _PrefixCache()

    @property
    def model(self) -> Any:
        """The transformers model (built on first access after a light load)."""
        return self.loaded.model

    @property
    def tokenizer(self) -> Any:
        """The transformers tokenizer (built on first access after a light load)."""
        return self.loaded.tokenizer

    def _parts(self) -> tuple[Any, Any, str]:
        """(decoder, output head, name of the cache argument) of the transformers model."""
        if self._transformers_parts is None:
            model = self.model
            decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
            head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
            if decoder is None or head is None:
                raise LMError(f"{type(model).__name__} does not expose a decoder and an output head")
            # transformers 5.x renamed the attention-cache argument from past_key_values to cache.
            parameters = inspect.signature(decoder.forward).parameters
            self._transformers_parts = (decoder, head, "cache" if "cache" in parameters else "past_key_values")
        return self._transformers_parts

    @property
    def _decoder(self) -> Any:
        return self._parts()[0]

    @property
    def _head(self) -> Any:
        return self._parts()[1]

    @property
    def _cache_argument(self) -> str:
        return self._parts()[2]

    @classmethod
    def load(
        cls, name_or_path: str | None = None, gguf_file: str | None = None, device: str = "auto", **kwargs: Any
    ) -> Scorer:
        from mtcheck.lm.models import load_model

        return cls(load_model(name_or_path, gguf_file, device), **kwargs)

    @property
    def identity(self) -> str:
        return self.loaded.identity

    # ------------------------------------------------------------ tokenizing

    def tokenize(self, texts: Sequence[str]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """Token ids and cleaned (starts, ends) for each text, with no special tokens added."""
        if not texts:
            return []
        if self._backend is not None:
            # The Rust tokenizer itself: what transformers' fast tokenizer calls underneath.
            encodings = self._backend.encode_batch(list(texts), add_special_tokens=False)
            return [
                (list(e.ids), *clean_offsets(text, e.offsets)) for text, e in zip(texts, encodings)
            ]
        encoded = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            # Text that happens to contain "<|endoftext|>" is text, not a control token.
            split_special_tokens=True,
        )
        result = []
        for text, ids, offsets in zip(texts, encoded["input_ids"], encoded["offset_mapping"]):
            starts, ends = clean_offsets(text, offsets)
            result.append((list(ids), starts, ends))
        return result

    def _pieces(self, text_index: int, ids: list[int]) -> list[_Piece]:
        capacity = self.window - 1
        if len(ids) <= capacity:
            return [_Piece(text_index, [self.start_id, *ids], 1, 0)] if ids else []
        pieces = [_Piece(text_index, [self.start_id, *ids[:capacity]], 1, 0)]
        position = capacity
        while position < len(ids):
            context = ids[max(0, position - self.context_tokens) : position]
            new = ids[position : position + capacity - len(context)]
            pieces.append(_Piece(text_index, [self.start_id, *context, *new], 1 + len(context), position))
            position += len(new)
        return pieces

    def _batches(self, pieces: list[_Piece]) -> list[list[_Piece]]:
        """Padded batches for the transformers path: similar lengths together, within the budget."""
        # Longest first, so similar lengths share a batch (little padding) and memory peaks early.
        ordered = sorted(pieces, key=lambda p: len(p.ids), reverse=True)
        batches: list[list[_Piece]] = []
        for piece in ordered:
            current = batches[-1] if batches else None
            if (
                current is not None
                and len(current) < self.batch_size
                and (len(current) + 1) * len(current[0].ids) <= self.token_budget
            ):
                current.append(piece)
            else:
                batches.append([piece])
        return batches

    def _flat_groups(self, pieces: list[_Piece]) -> list[list[_Piece]]:
        """Groups of pieces for one engine pass each: at most flat_tokens real tokens (or one piece)."""
        # Longest first: rows of one group have similar lengths, so attention pads little.
        ordered = sorted(pieces, key=lambda p: len(p.ids), reverse=True)
        groups: list[list[_Piece]] = []
        total = 0
        for piece in ordered:
            if groups and total + len(piece.ids) <= self.flat_tokens:
                groups[-1].append(piece)
                total += len(piece.ids)
            else:
                groups.append([piece])
                total = len(piece.ids)
        return groups

    # ------------------------------------------------------------ model arithmetic

    def _head_weights(self, dtype: Any) -> tuple[Any, Any] | None:
        """(weight, bias) of a plain Linear output head, in float32 for low-precision states; else None."""
        import torch

        if self.engine is not None and self.engine.head_weight is not None:
            weight, bias = self.engine.head_weight, self.engine.head_bias
        else:
            head = self._head
            if not isinstance(head, torch.nn.Linear):
                return None
            weight, bias = head.weight, head.bias
        if dtype != torch.float32 or weight.dtype != torch.float32:
            # bfloat16 logits are too coarse for log-probabilities: project in float32.
            if self._head_weight32 is None:
                self._head_weight32 = (weight.float(), None if bias is None else bias.float())
            return self._head_weight32
        return weight, bias

    def _quirks(self, logits: Any) -> Any:
        """Apply the model's output scaling and soft-capping to float32 logits."""
        import torch

        config = self._config
        scale = getattr(config, "logit_scale", None)
        if isinstance(scale, (int, float)) and scale != 1:
            logits = logits * scale
        scaling = getattr(config, "logits_scaling", None)
        if isinstance(scaling, (int, float)) and scaling != 1:
            logits = logits / scaling
        cap = getattr(config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    def _logits(self, rows: Any) -> Any:
        """Vocabulary logits (float32) for hidden-state rows, applying known output quirks."""
        import torch.nn.functional as F

        weights = self._head_weights(rows.dtype)
        if weights is not None:
            logits = F.linear(rows.float(), *weights)
        else:
            logits = self._head(rows).float()
        return self._quirks(logits)

    def _token_stats(self, rows: Any, targets: Any, entropy: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Log-probability of each target and (when asked) the entropy, for predictive hidden-state rows.

        With a plain Linear head the vocabulary is projected block by block (VOCAB_BLOCK columns,
        small enough to stay in the CPU cache) with a running maximum, normaliser and expected
        logit: no [rows, vocab] matrix is ever written to memory. This is faster than one large
        product followed by log-softmax passes over a 50-100 MB buffer.
        """
        import torch

        weights = self._head_weights(rows.dtype)
        step = _head_chunk(rows.device)
        logprobs, entropies = [], []
        for begin in range(0, rows.shape[0], step):
            chunk = rows[begin : begin + step]
            wanted = targets[begin : begin + step]
            if weights is None:
                stats = self._chunk_stats_full(self._logits(chunk), wanted, entropy)
            else:
                stats = self._chunk_stats_blocked(chunk.float(), weights, wanted, entropy)
            logprobs.append(stats[0])
            if entropy:
                entropies.append(stats[1])
        if not logprobs:
            empty = np.zeros(0, dtype=np.float32)
            return empty, empty
        lp = torch.cat(logprobs).cpu().numpy().astype(np.float32)
        if not entropy:
            return lp, np.zeros(0, dtype=np.float32)
        return lp, torch.cat(entropies).cpu().numpy().astype(np.float32)

    @staticmethod
    def _chunk_stats_full(logits: Any, targets: Any, entropy: bool) -> tuple[Any, Any]:

        target = logits.gather(1, targets[:, None]).squeeze(1)
        top = logits.amax(dim=-1)
        shifted = logits.sub_(top[:, None])
        spread = None
        if entropy:
            weights = shifted.exp()
            total = weights.sum(dim=-1)
            # H = log Z - E[logit] = log Σe^s - Σ e^s·s / Σe^s for the shifted logits s.
            spread = total.log() - (weights.mul_(shifted)).sum(dim=-1) / total
        else:
            total = shifted.exp_().sum(dim=-1)
        return target - top - total.log(), spread

    def _chunk_stats_blocked(self, rows: Any, weights: tuple[Any, Any], targets: Any, entropy: bool) -> tuple[Any, Any]:
        norm, spread = self._chunk_norm_blocked(rows, weights, entropy)
        return self._target_logits(rows, weights, targets) - norm, spread

    def _target_logits(self, rows: Any, weights: tuple[Any, Any], targets: Any) -> Any:
        """Each row's logit of its target token, without projecting the whole vocabulary."""
        weight, bias = weights
        target = (rows * weight.index_select(0, targets)).sum(dim=-1)
        if bias is not None:
            target = target + bias.index_select(0, targets)
        return self._quirks(target)

    def _chunk_norm_blocked(self, rows: Any, weights: tuple[Any, Any], entropy: bool) -> tuple[Any, Any]:
        """log Σ exp(logits) per row and (when asked) the entropy, VOCAB_BLOCK columns at a time."""
        import torch
        import torch.nn.functional as F

        weight, bias = weights
        count = rows.shape[0]
        top = torch.full((count,), -math.inf, device=rows.device)
        total = torch.zeros(count, device=rows.device)
        expected = torch.zeros(count, device=rows.device)
        block = _per_device(rows.device, VOCAB_BLOCK, weight.shape[0])
        for start in range(0, weight.shape[0], block):
            logits = F.linear(rows, weight[start : start + block], None if bias is None else bias[start : start + block])
            logits = self._quirks(logits)
            new_top = torch.maximum(top, logits.amax(dim=-1))
            rescale = torch.exp(top - new_top)
            exps = (logits - new_top[:, None]).exp_()
            total = total * rescale + exps.sum(dim=-1)
            if entropy:
                expected = expected * rescale + exps.mul_(logits).sum(dim=-1)
            top = new_top
        norm = top + total.log()
        # H = log Z - E[logit], with Z and E[logit] accumulated over the blocks.
        return norm, (norm - expected / total) if entropy else None

    def _pair_logprobs(self, states: Any, state_of: Any, targets: Any) -> np.ndarray:
        """log p(targets[i] | states[state_of[i]]): the vocabulary is projected once per distinct
        state, however many targets it predicts (edit candidates share many states)."""
        import torch

        weights = self._head_weights(states.dtype)
        if weights is None:
            return self._token_stats(states.index_select(0, state_of), targets, entropy=False)[0]
        states = states.float()
        step = _head_chunk(states.device)
        norms = torch.cat(
            [self._chunk_norm_blocked(states[begin : begin + step], weights, False)[0] for begin in range(0, states.shape[0], step)]
        )
        logits = self._target_logits(states.index_select(0, state_of), weights, targets)
        return (logits - norms.index_select(0, state_of)).cpu().numpy().astype(np.float32)

    def _run(self, input_ids: Any, attention_mask: Any, hidden_layer: int | None) -> tuple[Any, Any]:
        """Final (normed) hidden states and, when asked, the states of ``hidden_layer`` (transformers path)."""
        want_layer = hidden_layer is not None and hidden_layer != -1
        output = self._decoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=want_layer,
            use_cache=False,
        )
        final = output.last_hidden_state
        if hidden_layer is None:
            return final, None
        if not want_layer:
            return final, final
        layers = output.hidden_states
        if not -len(layers) <= hidden_layer < len(layers):
            raise ValueError(f"hidden_layer {hidden_layer} out of range: the model has {len(layers)} hidden states")
        return final, layers[hidden_layer]

    def _capture_index(self, hidden_layer: int | None) -> int | None:
        if hidden_layer is None or self.engine is None:
            return None
        count = self.engine.num_hidden_states
        if not -count <= hidden_layer < count:
            raise ValueError(f"hidden_layer {hidden_layer} out of range: the model has {count} hidden states")
        return hidden_layer % count

    # ------------------------------------------------------------ public API

    def score(self, texts: Sequence[str], hidden_layer: int | None = None) -> list[TokenScores]:
        """Score each text (a paragraph) token by token; see the module docstring.

        ``hidden_layer`` (index into the model's hidden states: 0 = embeddings, -1 = the final,
        normalized layer) adds ``hidden``: that layer's state at each token's own position.
        """
        texts = list(texts)
        return self._score_tokenized(texts, self.tokenize(texts), hidden_layer)

    def score_ids(self, sequences: Sequence[Sequence[int]], hidden_layer: int | None = None) -> list[TokenScores]:
        """``score`` for texts given as token ids (no start token): text and offsets are empty."""
        empty = np.zeros(0, dtype=np.int64)
        tokenized = [([int(t) for t in ids], empty, empty) for ids in sequences]
        return self._score_tokenized([""] * len(tokenized), tokenized, hidden_layer)

    def _score_tokenized(
        self, texts: list[str], tokenized: list[tuple[list[int], np.ndarray, np.ndarray]], hidden_layer: int | None
    ) -> list[TokenScores]:
        import torch

        capture = self._capture_index(hidden_layer)
        outputs: list[TokenScores] = []
        pieces: list[_Piece] = []
        for index, (text, (ids, starts, ends)) in enumerate(zip(texts, tokenized)):
            count = len(ids)
            outputs.append(
                TokenScores(
                    text=text,
                    starts=starts,
                    ends=ends,
                    token_ids=np.asarray(ids, dtype=np.int64),
                    logprobs=np.zeros(count, dtype=np.float32),
                    entropy=np.zeros(count, dtype=np.float32),
                    hidden=None,
                )
            )
            pieces.extend(self._pieces(index, ids))
        if hidden_layer is not None:
            width = self.engine.hidden_size if self.engine is not None else int(self._config.hidden_size)
            for out in outputs:
                out.hidden = np.zeros((len(out), width), dtype=np.float32)

        with torch.inference_mode(), self._threads:
            if self.engine is not None:
                # A small call (one document) keeps its paragraphs' attention caches for the
                # edit verification that follows; a corpus-sized call would only churn the cache.
                keep = sum(len(p.ids) for p in pieces) <= self._prefixes.max_tokens
                for group in self._flat_groups(pieces):
                    self._score_flat(group, outputs, capture, keep)
            else:
                for batch in self._batches(pieces):
                    self._score_batch(batch, outputs, hidden_layer)
        return outputs

    @staticmethod
    def _store(batch: list[_Piece], outputs: list[TokenScores], logprobs: np.ndarray, entropy: np.ndarray,
               hidden: np.ndarray | None) -> None:
        cursor = 0
        for piece in batch:
            count = len(piece.ids) - piece.emit_from
            out = outputs[piece.text_index]
            target = slice(piece.out_start, piece.out_start + count)
            out.logprobs[target] = logprobs[cursor : cursor + count]
            out.entropy[target] = entropy[cursor : cursor + count]
            if hidden is not None and out.hidden is not None:
                out.hidden[target] = hidden[cursor : cursor + count]
            cursor += count

    def _score_flat(self, group: list[_Piece], outputs: list[TokenScores], capture: int | None,
                    keep: bool = False) -> None:
        import torch

        assert self.engine is not None
        # Without a hidden layer to report, a piece's last state predicts nothing: leave it out.
        rows = [piece.ids if capture is not None else piece.ids[:-1] for piece in group]
        result = self.engine.forward(rows, capture=capture, keep_cache=keep)
        predictors: list[int] = []
        targets: list[int] = []
        own: list[int] = []
        offset = 0
        for piece, row in zip(group, rows):
            # The token at input position j is predicted by the state at j - 1.
            predictors.extend(range(offset + piece.emit_from - 1, offset + len(piece.ids) - 1))
            targets.extend(piece.ids[piece.emit_from :])
            if capture is not None:
                own.extend(range(offset + piece.emit_from, offset + len(piece.ids)))
            offset += len(row)
        index = torch.tensor(predictors, dtype=torch.long, device=self.device)
        wanted = torch.tensor(targets, dtype=torch.long, device=self.device)
        logprobs, entropy = self._token_stats(result.final.index_select(0, index), wanted)
        hidden = None
        if capture is not None:
            own_index = torch.tensor(own, dtype=torch.long, device=self.device)
            hidden = result.captured.index_select(0, own_index).float().cpu().numpy()
        self._store(group, outputs, logprobs, entropy, hidden)
        if keep and result.cache is not None:
            self._keep_paragraphs(group, rows, result)

    def _keep_paragraphs(self, group: list[_Piece], rows: list[list[int]], result: EngineOutput) -> None:
        """Put each paragraph's attention cache in the prefix cache: edit verification comes next
        and its candidates start with the paragraph's own tokens."""
        offset = 0
        for piece, row in zip(group, rows):
            count = len(row)
            if piece.out_start == 0:  # the paragraph's first window: it starts where the paragraph does
                cache = [
                    (
                        k[offset : offset + count].transpose(0, 1).unsqueeze(0).clone(),
                        v[offset : offset + count].transpose(0, 1).unsqueeze(0).clone(),
                    )
                    for k, v in result.cache
                ]
                self._prefixes.put(_Prefix(tuple(row), cache, result.final[offset : offset + count].clone()))
            offset += count

    def _score_batch(self, batch: list[_Piece], outputs: list[TokenScores], hidden_layer: int | None) -> None:
        import torch

        length = max(len(p.ids) for p in batch)
        input_ids = torch.full((len(batch), length), self.start_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        for row, piece in enumerate(batch):
            input_ids[row, : len(piece.ids)] = torch.tensor(piece.ids, dtype=torch.long)
            mask[row, : len(piece.ids)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        final, layer = self._run(input_ids, mask, hidden_layer)

        # Token at input position j is predicted by the state at j - 1.
        rows_b, rows_p = [], []
        for row, piece in enumerate(batch):
            positions = range(piece.emit_from, len(piece.ids))
            rows_b.extend([row] * len(positions))
            rows_p.extend(positions)
        index_b = torch.tensor(rows_b, dtype=torch.long, device=self.device)
        index_p = torch.tensor(rows_p, dtype=torch.long, device=self.device)
        logprobs, entropy = self._token_stats(final[index_b, index_p - 1], input_ids[index_b, index_p])
        hidden = layer[index_b, index_p].float().cpu().numpy() if layer is not None else None
        self._store(batch, outputs, logprobs, entropy, hidden)

    def continuation_logprob(self, prefix: str, candidates: Sequence[str]) -> list[float]:
        """Total logprob of each ``prefix + candidate`` beyond the prefix, given the start token.

        ``prefix + candidate`` is tokenized as one text, and every token that ends after the
        prefix counts (a token straddling the boundary counts in full). The tokens all candidates
        share are run once and their attention cache is reused for the candidates' tails (on the
        Llama engine the candidates form one token tree, and the shared start is kept for the next
        call that begins the same way, such as another window of the same sentence).
        An empty candidate scores 0.0.
        """
        return self.continuation_logprob_many([(prefix, candidates)])[0]

    def continuation_logprob_many(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """``continuation_logprob`` for several (prefix, candidates) requests, batched together.

        On the Llama engine the candidates of consecutive requests share model passes (token
        trees of up to TREE_NODES new tokens), so asking for every candidate window of a sentence
        or a paragraph at once costs fewer passes than one call per window.
        """
        import torch

        plans = [self._plan_continuation(prefix, list(candidates)) for prefix, candidates in requests]
        with torch.inference_mode(), self._threads:
            if self.engine is not None:
                self._continuation_trees([plan for plan in plans if plan.sequences])
            else:
                for plan in plans:
                    if plan.sequences:
                        self._continuation_transformers(plan)
        return [plan.results for plan in plans]

    def _plan_continuation(self, prefix: str, candidates: list[str]) -> _Continuation:
        """The model inputs for one request: for each candidate, start token + context + candidate."""
        plan = _Continuation([0.0] * len(candidates))
        if not candidates:
            return plan
        tokenized = self.tokenize([prefix + c for c in candidates])
        cut = len(prefix)
        ids_list = [ids for ids, _, _ in tokenized]
        first = [int(np.searchsorted(ends, cut, side="right")) for _, _, ends in tokenized]
        shared = min(min(first), _common_prefix_length(ids_list))
        todo = [i for i in range(len(candidates)) if first[i] < len(ids_list[i])]
        if not todo:
            return plan
        longest_tail = max(len(ids_list[i]) - shared for i in todo)
        keep = self.window - 1 - longest_tail  # prefix tokens that fit beside the longest tail
        if keep < 0:
            # A candidate alone overflows a window: fall back to windowed scoring.
            for i, scores in zip(todo, self.score([prefix + candidates[i] for i in todo])):
                plan.results[i] = float(scores.logprobs[first[i] :].sum(dtype=np.float64))
            return plan
        low = max(0, shared - keep)  # the context starts here, after the start token
        plan.low, plan.shared = low, shared
        for i in todo:
            # Text token k sits at input position k - low + 1.
            plan.candidates.append(i)
            plan.sequences.append([self.start_id, *ids_list[i][low:]])
            plan.scored_from.append(first[i] - low + 1)
        return plan

    def _continuation_transformers(self, plan: _Continuation) -> None:
        """transformers path: the shared prefix runs once per batch, its cache repeated for the tails."""
        shared_at = plan.shared - plan.low + 1  # input position where the candidates' tails start
        prefix_ids = plan.sequences[0][:shared_at]
        order = sorted(range(len(plan.sequences)), key=lambda n: len(plan.sequences[n]), reverse=True)
        for begin in range(0, len(order), self.batch_size):
            group = order[begin : begin + self.batch_size]
            tails = [plan.sequences[n][shared_at:] for n in group]
            totals = self._continuation_group(prefix_ids, tails, [plan.scored_from[n] - shared_at for n in group])
            for n, total in zip(group, totals):
                plan.results[plan.candidates[n]] = total

    def _continuation_trees(self, plans: list[_Continuation]) -> None:
        """Engine path: the candidates' sequences in token trees of up to TREE_NODES new nodes.

        Consecutive requests share a tree when they continue the same cached prefix (for
        example, windows of one paragraph, whose tokens score() left in the cache). Trees run
        side by side, up to FOREST_NODES nodes per engine pass. A request whose context is not
        cached (a score() call too large to keep its paragraphs) runs as soon as it is planned,
        so that the context it leaves in the cache serves the next windows of its paragraph.
        """
        forest = _Forest(self._run_forest, _per_device(self.device, FOREST_NODES, FOREST_NODES_GPU))
        pending: list[tuple[_Continuation, int]] = []
        trie: set[tuple[int, int, int]] = set()
        source: _Prefix | None = None

        def close_group() -> None:
            nonlocal pending, trie
            if pending:
                forest.add(self._plan_tree(pending, source))
            pending, trie = [], set()

        def look_up(context: list[int]) -> tuple[_Prefix | None, bool]:
            """The cached prefix to continue, and whether it misses most of ``context``."""
            entry, cached = self._prefixes.best(context)
            return entry, 2 * cached < len(context)

        for plan in plans:
            context = plan.sequences[0][: _common_prefix_length(plan.sequences)]
            entry, uncached = look_up(context)
            if uncached and (pending or forest.trees):
                close_group()
                forest.run()  # what runs now may leave this plan's context in the cache
                entry, uncached = look_up(context)
            if pending and entry is not source:
                close_group()
            source = entry
            order = sorted(range(len(plan.sequences)), key=lambda n: len(plan.sequences[n]), reverse=True)
            for n in order:
                keys = self._trie_keys(plan.sequences[n], entry)
                added = sum(1 for key in keys if key not in trie)
                if pending and len(trie) + added > TREE_NODES:
                    close_group()
                pending.append((plan, n))
                trie.update(keys)
            if uncached:
                close_group()
                forest.run()
        close_group()
        forest.run()

    @staticmethod
    def _cached_length(sequence: list[int], entry: _Prefix | None) -> int:
        """Input positions of ``sequence`` whose states ``entry`` holds (never its last token's)."""
        if entry is None:
            return 0
        return min(_common_prefix_length([entry.ids, sequence]), len(sequence) - 1)

    def _trie_keys(self, sequence: list[int], entry: _Prefix | None) -> list[tuple[int, int, int]]:
        """(attach point, position, token) of each node ``sequence`` needs, as _plan_tree builds them;
        a node's identity is its attach point and the tokens from there (hashed as the prefix)."""
        have = self._cached_length(sequence, entry)
        keys, state = [], have
        for position in range(have, len(sequence) - 1):
            state = hash((state, sequence[position]))
            keys.append((have, position, state))
        return keys

    def _plan_tree(self, members: list[tuple[_Continuation, int]], entry: _Prefix | None) -> _TreePlan:
        """The token tree of the sequences ``members`` (plan, index): each continues the longest
        start it shares with ``entry`` (a cached prefix); the rest is a trie of new nodes, each
        token computed once however many sequences have it."""
        sequences = [plan.sequences[n] for plan, n in members]
        have = [self._cached_length(s, entry) for s in sequences]
        past_length = max(have)
        tree = _TreePlan(members, sequences, have, None if entry is None or past_length == 0 else entry.head(past_length))
        trie: dict[tuple[int, int, int], int] = {}
        for sequence, cached in zip(sequences, have):
            nodes, parent = [], -1
            for token in sequence[cached:-1]:
                key = (cached, parent, token)
                node = trie.get(key)
                if node is None:
                    node = trie[key] = len(tree.ids)
                    tree.ids.append(token)
                    tree.parents.append(parent)
                    tree.attach.append(cached)
                nodes.append(node)
                parent = node
            tree.node_at.append(nodes)
        return tree

    def _run_forest(self, trees: list[_TreePlan]) -> None:
        """Run ``trees`` in one engine pass, then score every member's continuation in one
        vocabulary projection."""
        import torch

        assert self.engine is not None
        running = [tree for tree in trees if tree.ids]
        outputs = self.engine.forward_forest(
            [Tree(t.ids, t.parents, None if t.past is None else t.past.cache, t.attach) for t in running]
        )
        out_of = {id(tree): out for tree, out in zip(running, outputs)}
        states_of_trees, state_of, targets, uses_of_trees = [], [], [], []
        distinct = 0
        for tree in trees:
            out = out_of.get(id(tree))
            parts = [part for part in (None if tree.past is None else tree.past.final, None if out is None else out.final)
                     if part is not None]
            states = torch.cat(parts) if len(parts) > 1 else parts[0]
            pairs, uses = self._tree_pairs(tree)
            used = sorted({state for state, _ in pairs})
            where = {state: distinct + k for k, state in enumerate(used)}
            if used:
                states_of_trees.append(states.index_select(0, torch.tensor(used, dtype=torch.long, device=self.device)))
            distinct += len(used)
            state_of.extend(where[state] for state, _ in pairs)
            targets.extend(token for _, token in pairs)
            uses_of_trees.append((len(pairs), uses))
            if out is not None:
                self._keep_trunk(tree, states, out)
        values = np.zeros(0)
        if targets:
            logprobs = self._pair_logprobs(
                torch.cat(states_of_trees),
                torch.tensor(state_of, dtype=torch.long, device=self.device),
                torch.tensor(targets, dtype=torch.long, device=self.device),
            )
            values = logprobs.astype(np.float64)
        offset = 0
        for tree, (count, uses) in zip(trees, uses_of_trees):
            mine = values[offset : offset + count]
            offset += count
            for (plan, n), wanted in zip(tree.members, uses):
                plan.results[plan.candidates[n]] = float(mine[wanted].sum()) if wanted else 0.0

    @staticmethod
    def _tree_pairs(tree: _TreePlan) -> tuple[list[tuple[int, int]], list[list[int]]]:
        """The distinct (predicting state, target token) pairs the tree's members need (states:
        past first, then the new nodes), and per member the indices of the pairs it sums."""
        past_length = 0 if tree.past is None else len(tree.past.ids)
        pairs: dict[tuple[int, int], int] = {}
        uses: list[list[int]] = []
        for (plan, n), sequence, nodes, cached in zip(tree.members, tree.sequences, tree.node_at, tree.have):
            wanted = []
            for position in range(plan.scored_from[n], len(sequence)):
                before = position - 1  # the state at the previous position predicts this token
                state = before if before < cached else past_length + nodes[before - cached]
                wanted.append(pairs.setdefault((state, sequence[position]), len(pairs)))
            uses.append(wanted)
        return list(pairs), uses

    def _keep_trunk(self, tree: _TreePlan, states: Any, out: EngineOutput) -> None:
        """Keep the start all the tree's sequences share for the next call, when it goes beyond
        the cache (its last token is computed only if some sequence goes beyond it)."""
        import torch

        sequences, have = tree.sequences, tree.have
        past_length = 0 if tree.past is None else len(tree.past.ids)
        trunk = sequences[0][: _common_prefix_length(sequences)]
        keep = min(len(trunk), max(len(s) for s in sequences) - 1)
        root = have[0]
        if out.cache is None or keep <= root or any(h != root for h in have):
            return
        # All sequences attach at ``root``; the trunk's nodes are the first keep - root nodes
        # (the longest sequence was added first), so cache positions 0 .. keep - 1 hold it.
        index = torch.tensor([*range(root), *range(past_length, past_length + keep - root)], dtype=torch.long, device=self.device)
        cache = [(k.index_select(2, index), v.index_select(2, index)) for k, v in out.cache]
        final = torch.cat([states[:root], states[past_length : past_length + keep - root]])
        self._prefixes.put(_Prefix(tuple(trunk[:keep]), cache, final))

    def _continuation_group(self, prefix_ids: list[int], tails: list[list[int]], scored_from: list[int]) -> list[float]:
        import torch

        head = self._decoder(
            input_ids=torch.tensor([prefix_ids], dtype=torch.long, device=self.device), use_cache=True
        )
        cache = getattr(head, self._cache_argument, None)
        if cache is None:
            raise LMError(f"{type(self._decoder).__name__} returned no attention cache")
        cache.batch_repeat_interleave(len(tails))
        length = max(len(t) for t in tails)
        input_ids = torch.full((len(tails), length), self.start_id, dtype=torch.long)
        mask = torch.zeros((len(tails), len(prefix_ids) + length), dtype=torch.long)
        mask[:, : len(prefix_ids)] = 1
        for row, tail in enumerate(tails):
            input_ids[row, : len(tail)] = torch.tensor(tail, dtype=torch.long)
            mask[row, len(prefix_ids) : len(prefix_ids) + len(tail)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        states = self._decoder(
            input_ids=input_ids, attention_mask=mask, use_cache=True, **{self._cache_argument: cache}
        ).last_hidden_state
        # Tail token t is predicted by tail state t - 1, or by the prefix's last state for t = 0.
        predictors = torch.cat([head.last_hidden_state[:, -1:, :].expand(len(tails), 1, -1), states[:, :-1, :]], dim=1)
        rows_b, rows_t = [], []
        for row, (tail, start) in enumerate(zip(tails, scored_from)):
            positions = range(start, len(tail))
            rows_b.extend([row] * len(positions))
            rows_t.extend(positions)
        index_b = torch.tensor(rows_b, dtype=torch.long, device=self.device)
        index_t = torch.tensor(rows_t, dtype=torch.long, device=self.device)
        logprobs, _ = self._token_stats(predictors[index_b, index_t], input_ids[index_b, index_t], entropy=False)
        totals, cursor = [], 0
        for tail, start in zip(tails, scored_from):
            count = len(tail) - start
            totals.append(float(logprobs[cursor : cursor + count].sum(dtype=np.float64)))
            cursor += count
        return totals


def _common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    shortest = min(len(s) for s in sequences)
    for position in range(shortest):
        token = sequences[0][position]
        if any(s[position] != token for s in sequences[1:]):
            return position
    return shortest
