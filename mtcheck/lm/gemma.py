"""The frozen half of a Gemma 3 backbone (e.g. Gemma-3-270M), on the same flat rows as LlamaEngine.

Gemma 3 differs from Llama in its arithmetic, not its shape: embeddings scaled by sqrt(hidden),
RMS norms that scale by (1 + weight), norms after attention and after the MLP as well as before,
RMS-normed queries and keys, a tanh-GELU gate, and two rotary bases (local layers 10k, global
layers 1M). Its local layers attend within a 512-token window; the detector's rows are at most
256 tokens (mtcheck.fluency.align.MAX_TOKENS), so every layer sees its whole row, as here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtcheck.lm.engine import LlamaEngine, _rms_norm, _rotate
from mtcheck.lm.models import LMError

SLIDING_WINDOW_FLOOR = 256  # rows never exceed this many tokens (align.MAX_TOKENS)


def plus_one(weight: Any) -> Any:
    """A Gemma RMS norm's weight as the factor torch's rms_norm multiplies by: 1 + the weight."""
    return (1.0 + weight.detach().float()).to(weight.dtype)


def gemma_inv_freq(base: float, head_dim: int) -> Any:
    import torch

    return 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float) / head_dim))


class GemmaEngine(LlamaEngine):
    """The first layers of a transformers Gemma 3 text model over flat, unpadded token rows.

    ``layers``: per layer (input norm, eps, q, k, v, o, q norm, k norm, post-attention norm,
    pre-MLP norm, post-MLP norm, gate, up, down, rotary base), norms already as (1 + weight).
    """

    ARCH = "gemma3"
    ATTENTION, MLP = slice(2, 6), slice(11, 14)

    @staticmethod
    def unsupported(model: Any) -> str | None:
        config = getattr(model, "config", None)
        if getattr(config, "model_type", None) not in ("gemma3_text", "gemma3"):
            return f"model type {getattr(config, 'model_type', None)!r} is not gemma3_text"
        if getattr(config, "hidden_activation", "gelu_pytorch_tanh") != "gelu_pytorch_tanh":
            return f"activation {config.hidden_activation!r}"
        if getattr(config, "attn_logit_softcapping", None) or getattr(config, "attention_bias", False):
            return "soft-capped or biased attention"
        if float(getattr(config, "query_pre_attn_scalar", 0) or 0) != float(getattr(config, "head_dim", -1)):
            return "query_pre_attn_scalar differs from head_dim"  # the trained layers scale by head_dim
        if int(getattr(config, "sliding_window", 0) or 0) < SLIDING_WINDOW_FLOOR:
            return "a sliding window shorter than the detector's rows"
        for parameters in (getattr(config, "rope_parameters", None) or {}).values():
            if isinstance(parameters, dict) and parameters.get("rope_type", "default") != "default":
                return f"rope type {parameters.get('rope_type')!r}"
        return None

    @staticmethod
    def config_problem(config: dict[str, Any]) -> str | None:
        """Why a config.json (as a dict) cannot run here, or None: the checks of ``unsupported``."""
        from types import SimpleNamespace

        return GemmaEngine.unsupported(SimpleNamespace(config=SimpleNamespace(**config)))

    @classmethod
    def from_weights(cls, weights: Any, attention: str = "bucket") -> GemmaEngine:
        """An engine on the tensors of a light load (mtcheck.lm.models.LlamaWeights)."""
        import functools

        import torch
        import torch.nn.functional as F

        config, tensors = weights.config, weights.tensors
        eps = float(config.get("rms_norm_eps", 1e-6))

        def linear(name: str) -> Any:
            return functools.partial(F.linear, weight=tensors[name])

        def norm(name: str) -> Any:
            return plus_one(tensors[name])

        rope = config["rope_parameters"]
        layers = []
        for i, kind in enumerate(config["layer_types"][: int(config["num_hidden_layers"])]):
            p = f"model.layers.{i}."
            layers.append((
                norm(p + "input_layernorm.weight"), eps, linear(p + "self_attn.q_proj.weight"),
                linear(p + "self_attn.k_proj.weight"), linear(p + "self_attn.v_proj.weight"),
                linear(p + "self_attn.o_proj.weight"), norm(p + "self_attn.q_norm.weight"),
                norm(p + "self_attn.k_norm.weight"), norm(p + "post_attention_layernorm.weight"),
                norm(p + "pre_feedforward_layernorm.weight"), norm(p + "post_feedforward_layernorm.weight"),
                linear(p + "mlp.gate_proj.weight"), linear(p + "mlp.up_proj.weight"),
                linear(p + "mlp.down_proj.weight"), float(rope[kind]["rope_theta"]),
            ))
        embed = tensors["model.embed_tokens.weight"]
        head_dim = int(config["head_dim"])
        return cls._finish(
            cls(embed=embed, layers=layers, norm=(norm("model.norm.weight"), eps), lm_head=embed,
                inv_freq=gemma_inv_freq(float(rope["full_attention"]["rope_theta"]), head_dim).to(embed.device),
                rope_factor=1.0, heads=int(config["num_attention_heads"]),
                kv_heads=int(config["num_key_value_heads"]), head_dim=head_dim, attention=attention),
            float(config["query_pre_attn_scalar"]), int(config["hidden_size"]), torch,
        )

    @staticmethod
    def _finish(engine: GemmaEngine, query_scalar: float, hidden: int, torch: Any) -> GemmaEngine:
        engine.scaling = query_scalar**-0.5
        engine.embed_scale = torch.tensor(float(hidden) ** 0.5, dtype=engine.embed.dtype)
        for base in {layer[14] for layer in engine.layers}:  # one rotary table per base (local, global)
            engine._inv_freqs[base] = gemma_inv_freq(base, engine.head_dim).to(engine.device)
        return engine

    @classmethod
    def from_model(cls, model: Any, attention: str = "bucket") -> GemmaEngine:
        import torch

        reason = cls.unsupported(model)
        if reason is not None:
            raise LMError(f"{type(model).__name__} cannot run on GemmaEngine: {reason}")
        config = model.config
        base = model.get_decoder()
        head_dim = int(config.head_dim)
        rope = config.rope_parameters
        layers = []
        for layer, kind in zip(base.layers, config.layer_types):
            attn = layer.self_attn
            layers.append((
                plus_one(layer.input_layernorm.weight), float(layer.input_layernorm.eps), attn.q_proj, attn.k_proj,
                attn.v_proj, attn.o_proj, plus_one(attn.q_norm.weight), plus_one(attn.k_norm.weight),
                plus_one(layer.post_attention_layernorm.weight), plus_one(layer.pre_feedforward_layernorm.weight),
                plus_one(layer.post_feedforward_layernorm.weight),
                layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj, float(rope[kind]["rope_theta"]),
            ))
        embed = base.embed_tokens.weight
        engine = cls(
            embed=embed,
            layers=layers,
            norm=(plus_one(base.norm.weight), float(base.norm.eps)),
            lm_head=model.get_output_embeddings().weight,
            inv_freq=gemma_inv_freq(float(rope["full_attention"]["rope_theta"]), head_dim).to(embed.device),
            rope_factor=1.0,
            heads=int(config.num_attention_heads),
            kv_heads=int(config.num_key_value_heads),
            head_dim=head_dim,
            attention=attention,
        )
        return cls._finish(engine, float(config.query_pre_attn_scalar), int(config.hidden_size), torch)

    def use_bf16_matmuls(self) -> None:
        raise LMError("bf16 matrix products are implemented for Llama backbones only")

    def rope_base(self, index: int) -> float:
        return self.layers[index][14]

    def states(self, rows: Sequence[Sequence[int]], depth: int, surprisal: bool = False) -> Any:
        """The residual stream after the first ``depth`` layers, [tokens, hidden], rows concatenated."""
        import torch
        import torch.nn.functional as F

        if surprisal:
            raise LMError("surprisal features are implemented for Llama backbones only")
        ids, positions, layout = self._flat(rows)
        tokens, heads, kv, dim = len(ids), self.heads, self.kv_heads, self.head_dim
        with torch.inference_mode():
            x = self.embed[ids] * self.embed_scale
            for ln1, eps, q_proj, k_proj, v_proj, o_proj, qn, kn, ln2, ln3, ln4, gate, up, down, base in self.layers[:depth]:
                cos, sin = self._rope_tables(positions, base)
                h = _rms_norm(x, ln1, eps)
                q = _rotate(_rms_norm(q_proj(h).view(tokens, heads, dim), qn, eps), cos, sin)
                k = _rotate(_rms_norm(k_proj(h).view(tokens, kv, dim), kn, eps), cos, sin)
                v = v_proj(h).view(tokens, kv, dim)
                x = x + _rms_norm(o_proj(layout.attend(q, k, v, self.scaling)), ln2, eps)
                h = _rms_norm(x, ln3, eps)
                x = x + _rms_norm(down(F.gelu(gate(h), approximate="tanh") * up(h)), ln4, eps)
        return x
