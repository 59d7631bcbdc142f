"""The frozen half of the backbone: a Llama-architecture model's first layers, fast on a CPU.

:class:`LlamaEngine` runs the first ``depth`` layers of the model over *flat* token rows: every
linear layer sees only real tokens (no padding), and attention pads only inside its own small
kernel. It computes the same numbers as transformers' forward pass (tests compare them to float
rounding) without transformers' per-call overheads, and without the layers above ``depth`` or the
vocabulary projection, which the detector never needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mtcheck.lm.models import LMError

# Attention pads rows of one bucket to its longest row: at most this many slots per real token.
PAD_SLACK = 1.25
# Tokens per vocabulary projection: [chunk, vocabulary] float32 logits stay near 100 MB.
PROJECTION_CHUNK = 512
# Per token, what the whole model thought of it: surprisal and the entropy of its prediction (nats).
SURPRISAL_COLUMNS = 2


def _rms_norm(x: Any, weight: Any, eps: float) -> Any:
    # transformers' LlamaRMSNorm: normalise in float32, cast back, then scale. torch's fused
    # rms_norm does the same operations in the same order (identical float32 results on the
    # CPU; tests compare the engine with transformers) about 5x faster than the separate ops.
    import torch
    import torch.nn.functional as F

    if x.dtype == torch.float32 and weight.dtype == torch.float32:
        return F.rms_norm(x, (x.shape[-1],), weight, eps)
    return weight * F.rms_norm(x.float(), (x.shape[-1],), None, eps).to(x.dtype)


def weight_of(projection: Any) -> Any:
    """The weight of a projection: a light load's partial(F.linear, weight=…) or a Linear module
    (None for a callable that has neither)."""
    weight = getattr(projection, "keywords", {}).get("weight")
    return weight if weight is not None else getattr(projection, "weight", None)


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
    """The first layers of a Llama-architecture model over flat, unpadded token rows.

    Rows of different lengths are concatenated into one [tokens, hidden] matrix, so every linear
    layer multiplies only real tokens. Attention, whose cost is small at paragraph lengths, either
    scatters the rows into a padded [rows, heads, longest, head_dim] block ("bucket", the default)
    or runs one packed row with a block-diagonal causal mask ("packed"; its cost grows with the
    square of the pack). The weights are a light load's memory-mapped tensors or a transformers
    model's own modules (so quantized modules work too): nothing is copied. Only the layers a
    detector needs run: no final norm, no vocabulary projection.
    """

    ARCH = "llama"
    ATTENTION, MLP = slice(2, 6), slice(8, 11)  # where a layer tuple holds q k v o, and gate up down
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
        lm_head: Any,
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
        """
        if attention not in ("bucket", "packed"):
            raise ValueError(f"attention must be 'bucket' or 'packed', not {attention!r}")
        self.attention = attention
        self.embed = embed
        self.device, self.dtype = embed.device, embed.dtype
        self.layers = layers
        self.norm_weight, self.norm_eps = norm
        self.lm_head = lm_head
        self.inv_freq = inv_freq
        self.rope_factor = rope_factor
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.scaling = head_dim**-0.5
        self.hidden_size = int(embed.shape[1])
        self.precision = str(embed.dtype).replace("torch.", "")
        # cos and sin tables per rotary frequency set (None: ``inv_freq``; GemmaEngine adds a set per base)
        self._inv_freqs: dict[Any, Any] = {None: inv_freq}
        self._rope: dict[Any, tuple[Any, Any]] = {}
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

        The residual stream, norms and attention stay float32. On CPUs
        with AMX or AVX512-BF16 this is ~1.7x faster, at ~0.02 nats mean (~0.2 max) deviation per
        token: not exact, so opt-in (Backbone(precision="bf16") or MTCHECK_LM_PRECISION=bf16).
        """
        import torch

        def fast(projection: Any) -> Any:
            weight = weight_of(projection)
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
            lm_head=model.get_output_embeddings().weight,
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
            lm_head=tensors.get("lm_head.weight", embed),
            inv_freq=inv_freq.to(embed.device),
            rope_factor=1.0,
            heads=heads,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=head_dim,
            attention=attention,
        )

    def _rope_tables(self, positions: Any, key: Any = None) -> tuple[Any, Any]:
        """cos and sin [tokens, 1, head_dim] at ``positions`` for frequency set ``key``, computed as
        transformers does."""
        import torch

        needed = int(positions.max()) + 1 if positions.numel() else 1
        table = self._rope.get(key)
        if table is None or table[0].shape[0] < needed:
            size = max(needed, 2 * (table[0].shape[0] if table else 256))
            steps = torch.arange(size, device=self.device).float()
            freqs = steps[:, None] * self._inv_freqs[key][None, :]
            emb = torch.cat((freqs, freqs), dim=-1)
            table = self._rope[key] = (
                (emb.cos() * self.rope_factor).to(self.dtype),
                (emb.sin() * self.rope_factor).to(self.dtype),
            )
        cos, sin = table
        return cos[positions].unsqueeze(1), sin[positions].unsqueeze(1)


    def states(self, rows: Sequence[Sequence[int]], depth: int, surprisal: bool = False) -> Any:
        """The residual stream after the first ``depth`` layers, [tokens, hidden], rows concatenated.

        Only those layers run (no final norm, no vocabulary projection), unless ``surprisal``: then
        the whole model runs and SURPRISAL_COLUMNS columns follow the hidden ones, each token's
        surprisal -log p(token | the row before it) and the entropy of that prediction (0 for a
        row's first token, which nothing predicts).
        """
        import torch

        ids, positions, layout = self._flat(rows)
        with torch.inference_mode():
            cos, sin = self._rope_tables(positions)
            tapped = self._layers(self.embed[ids], cos, sin, layout, 0, depth)
            if not surprisal:
                return tapped
            top = self._layers(tapped, cos, sin, layout, depth, len(self.layers))
            columns = self._surprisal(self._norm(top, self.norm_weight, self.norm_eps), ids, positions)
            return torch.cat((tapped, columns.to(tapped.dtype)), dim=1)

    def _flat(self, rows: Sequence[Sequence[int]]) -> tuple[Any, Any, _RowLayout]:
        """Token ids and positions of ``rows`` concatenated, and their attention layout."""
        import torch

        lengths = [len(r) for r in rows]
        if not rows or min(lengths) < 1:
            raise ValueError(f"{type(self).__name__}.states needs at least one row, and no empty row")
        ids = torch.tensor([token for row in rows for token in row], dtype=torch.long, device=self.device)
        positions = torch.cat([torch.arange(n) for n in lengths]).to(self.device)
        return ids, positions, _RowLayout(lengths, self.attention, self.device)

    @property
    def intermediate_size(self) -> int:
        return int(weight_of(self.layers[0][self.MLP][0]).shape[0])

    @property
    def layer_weights(self) -> int:
        """Matrix weights one token passes through in one layer (a token's FLOP there: twice this)."""
        return sum(weight_of(p).numel() for p in self.layers[0][self.ATTENTION] + self.layers[0][self.MLP])

    @property
    def layer_eps(self) -> float:
        return float(self.layers[0][1])

    def _layers(self, x: Any, cos: Any, sin: Any, layout: _RowLayout, begin: int, end: int) -> Any:
        tokens = x.shape[0]
        for ln1, eps1, q_proj, k_proj, v_proj, o_proj, ln2, eps2, gate, up, down in self.layers[begin:end]:
            h = self._norm(x, ln1, eps1)
            q = self._rotate(q_proj(h).view(tokens, self.heads, self.head_dim), cos, sin)
            k = self._rotate(k_proj(h).view(tokens, self.kv_heads, self.head_dim), cos, sin)
            v = v_proj(h).view(tokens, self.kv_heads, self.head_dim)
            x = x + o_proj(layout.attend(q, k, v, self.scaling))
            h = self._norm(x, ln2, eps2)
            x = x + down(self._swiglu(gate(h), up(h)))
        return x

    def _surprisal(self, final: Any, ids: Any, positions: Any) -> Any:
        """[tokens, 2]: surprisal and prediction entropy of each token from the state before it."""
        import torch
        import torch.nn.functional as F

        tokens = ids.shape[0]
        out = torch.zeros(tokens, SURPRISAL_COLUMNS, dtype=torch.float32, device=ids.device)
        predicted = torch.nonzero(positions[1:] > 0).squeeze(1)  # token i predicts token i + 1 of its row
        for begin in range(0, len(predicted), PROJECTION_CHUNK):
            at = predicted[begin : begin + PROJECTION_CHUNK]
            log_probs = F.log_softmax(F.linear(final[at], self.lm_head).float(), dim=-1)
            out[at + 1, 0] = -log_probs.gather(1, ids[at + 1].unsqueeze(1)).squeeze(1)
            out[at + 1, 1] = -(log_probs.exp() * log_probs).sum(dim=1)
        return out


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

    def attend(self, q: Any, k: Any, v: Any, scale: float) -> Any:
        """Attention output [tokens, heads * dim] for flat q [tokens, heads, dim], k and v."""
        tokens, heads, dim = q.shape
        if not self.buckets:
            blocks = [x.unsqueeze(0).transpose(1, 2) for x in (q, k, v)]
            return _sdpa(*blocks, self.mask, scale).reshape(tokens, heads * dim)
        out = q.new_empty(tokens, heads * dim)
        for rows, longest, flat, padded in self.buckets:
            blocks = []
            for x in (q, k, v):
                block = x.new_zeros(rows * longest, *x.shape[1:])
                block.index_copy_(0, padded, x.index_select(0, flat))
                blocks.append(block.view(rows, longest, *x.shape[1:]).transpose(1, 2))
            result = _sdpa(*blocks, None, scale).reshape(rows * longest, heads * dim)
            out.index_copy_(0, flat, result.index_select(0, padded))
        return out


