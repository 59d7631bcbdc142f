"""The trainable part of the detector: the backbone's top layer(s), a bidirectional GRU and a head.

The frozen backbone runs its first ``depth`` layers (LlamaEngine, no vocabulary projection). The
next ``top`` layers are copies of the backbone's own layers, initialised from its weights and
fine-tuned. With ``features``, each token also carries what the whole model made of it (its
surprisal and the entropy of its prediction: mtcheck.lm.engine), which join the states after the
top layers. A causal layer's state at a token sees only what comes before it, so a small
bidirectional GRU gives every token both sides before a linear head scores it. A word's logit is
its last token's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mtcheck.lm.engine import weight_of

FEATURE_SCALE = 0.1  # surprisal and entropy (nats, mostly 0-15) to the LayerNorm'd states' scale


@dataclass(frozen=True)
class Shape:
    """What the network needs to know of the backbone, and its own sizes."""

    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    eps: float
    depth: int  # frozen backbone layers run before the network
    top: int  # fine-tuned backbone layers
    gru: int  # GRU units per direction
    features: int = 0  # columns after the hidden ones (mtcheck.lm.engine.SURPRISAL_COLUMNS, or 0)
    arch: str = "llama"  # the backbone's layer arithmetic: "llama" or "gemma3" (mtcheck.lm.gemma)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _LlamaLayer(nn.Module):
    """One Llama decoder layer (the same arithmetic as mtcheck.lm.engine.LlamaEngine), trainable."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        h, kv = shape.hidden, shape.kv_heads * shape.head_dim
        self.shape = shape
        self.input_norm = nn.Parameter(torch.ones(h))
        self.q = nn.Linear(h, shape.heads * shape.head_dim, bias=False)
        self.k = nn.Linear(h, kv, bias=False)
        self.v = nn.Linear(h, kv, bias=False)
        self.o = nn.Linear(shape.heads * shape.head_dim, h, bias=False)
        self.post_norm = nn.Parameter(torch.ones(h))
        self.gate = nn.Linear(h, shape.intermediate, bias=False)
        self.up = nn.Linear(h, shape.intermediate, bias=False)
        self.down = nn.Linear(shape.intermediate, h, bias=False)

    def load_backbone(self, layer: tuple[Any, ...]) -> None:
        """Copy the weights of one LlamaEngine layer tuple."""
        ln1, _, q, k, v, o, ln2, _, gate, up, down = layer
        with torch.no_grad():
            self.input_norm.copy_(ln1.float())
            self.post_norm.copy_(ln2.float())
            for mine, theirs in ((self.q, q), (self.k, k), (self.v, v), (self.o, o),
                                 (self.gate, gate), (self.up, up), (self.down, down)):
                mine.weight.copy_(weight_of(theirs).float())

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        s = self.shape
        batch, length, _ = x.shape
        h = F.rms_norm(x, (s.hidden,), self.input_norm, s.eps)
        q = _rotate(self.q(h).view(batch, length, s.heads, s.head_dim), cos, sin).transpose(1, 2)
        k = _rotate(self.k(h).view(batch, length, s.kv_heads, s.head_dim), cos, sin).transpose(1, 2)
        v = self.v(h).view(batch, length, s.kv_heads, s.head_dim).transpose(1, 2)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=s.head_dim**-0.5, enable_gqa=s.heads != s.kv_heads
        )
        x = x + self.o(attended.transpose(1, 2).reshape(batch, length, s.heads * s.head_dim))
        h = F.rms_norm(x, (s.hidden,), self.post_norm, s.eps)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class _GemmaLayer(nn.Module):
    """One Gemma 3 decoder layer (the arithmetic of mtcheck.lm.gemma.GemmaEngine), trainable.

    Its norms hold (1 + Gemma's weight), the factor torch's rms_norm multiplies by; its rotary
    frequencies are its own (local and global layers use different bases).
    """

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        h, d, kv = shape.hidden, shape.head_dim, shape.kv_heads * shape.head_dim
        self.shape = shape
        for name, size in (("input_norm", h), ("q_norm", d), ("k_norm", d), ("post_attention_norm", h),
                           ("pre_mlp_norm", h), ("post_mlp_norm", h)):
            setattr(self, name, nn.Parameter(torch.ones(size)))
        self.q = nn.Linear(h, shape.heads * d, bias=False)
        self.k = nn.Linear(h, kv, bias=False)
        self.v = nn.Linear(h, kv, bias=False)
        self.o = nn.Linear(shape.heads * d, h, bias=False)
        self.gate = nn.Linear(h, shape.intermediate, bias=False)
        self.up = nn.Linear(h, shape.intermediate, bias=False)
        self.down = nn.Linear(shape.intermediate, h, bias=False)
        self.register_buffer("inv_freq", torch.zeros(d // 2))

    def load_backbone(self, layer: tuple[Any, ...]) -> None:
        """Copy the weights of one GemmaEngine layer tuple."""
        from mtcheck.lm.gemma import gemma_inv_freq

        ln1, _, q, k, v, o, qn, kn, ln2, ln3, ln4, gate, up, down, base = layer
        with torch.no_grad():
            for mine, theirs in ((self.input_norm, ln1), (self.q_norm, qn), (self.k_norm, kn),
                                 (self.post_attention_norm, ln2), (self.pre_mlp_norm, ln3), (self.post_mlp_norm, ln4)):
                mine.copy_(theirs.float())
            for mine, theirs in ((self.q, q), (self.k, k), (self.v, v), (self.o, o),
                                 (self.gate, gate), (self.up, up), (self.down, down)):
                mine.weight.copy_(weight_of(theirs).float())
            self.inv_freq.copy_(gemma_inv_freq(base, self.shape.head_dim))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        s = self.shape
        batch, length, _ = x.shape
        cos, sin = _rope(self.inv_freq, length)
        h = F.rms_norm(x, (s.hidden,), self.input_norm, s.eps)
        q = F.rms_norm(self.q(h).view(batch, length, s.heads, s.head_dim), (s.head_dim,), self.q_norm, s.eps)
        k = F.rms_norm(self.k(h).view(batch, length, s.kv_heads, s.head_dim), (s.head_dim,), self.k_norm, s.eps)
        q, k = _rotate(q, cos, sin).transpose(1, 2), _rotate(k, cos, sin).transpose(1, 2)
        v = self.v(h).view(batch, length, s.kv_heads, s.head_dim).transpose(1, 2)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, scale=s.head_dim**-0.5, enable_gqa=s.heads != s.kv_heads
        )
        attended = self.o(attended.transpose(1, 2).reshape(batch, length, s.heads * s.head_dim))
        x = x + F.rms_norm(attended, (s.hidden,), self.post_attention_norm, s.eps)
        h = F.rms_norm(x, (s.hidden,), self.pre_mlp_norm, s.eps)
        mlp = self.down(F.gelu(self.gate(h), approximate="tanh") * self.up(h))
        return x + F.rms_norm(mlp, (s.hidden,), self.post_mlp_norm, s.eps)


LAYERS = {"llama": _LlamaLayer, "gemma3": _GemmaLayer}


def _rope(inv_freq: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [1, length, 1, head_dim] for positions 0 … length - 1."""
    freqs = torch.arange(length, dtype=torch.float, device=inv_freq.device)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class DetectorNet(nn.Module):
    """Backbone states after ``depth`` layers → per-token disfluency logits."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.shape = shape
        self.layers = nn.ModuleList(LAYERS[shape.arch](shape) for _ in range(shape.top))
        self.norm = nn.LayerNorm(shape.hidden)
        self.gru = nn.GRU(shape.hidden + shape.features, shape.gru, batch_first=True, bidirectional=True)
        self.head = nn.Linear(shape.hidden + shape.features + 2 * shape.gru, 1)
        # The backbone's rotary frequencies (saved with the weights, copied from the engine).
        self.register_buffer("inv_freq", torch.zeros(shape.head_dim // 2))

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``states`` [batch, length, hidden + features] (rows padded at the end), ``lengths`` [batch] → logits [batch, length]."""
        batch, length, _ = states.shape
        device = states.device
        valid = torch.arange(length, device=device)[None, :] < lengths.to(device)[:, None]
        causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
        mask = (causal[None, :, :] & valid[:, None, :])[:, None, :, :]
        cos, sin = _rope(self.inv_freq, length)
        x = states[..., : self.shape.hidden].float()
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        if self.shape.features:
            x = torch.cat((x, states[..., self.shape.hidden :].float() * FEATURE_SCALE), dim=-1)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        both, _ = self.gru(packed)
        both, _ = nn.utils.rnn.pad_packed_sequence(both, batch_first=True, total_length=length)
        return self.head(torch.cat((x, both), dim=-1)).squeeze(-1)


def padded(states: Sequence[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of states ([tokens, hidden] tensors or arrays) as one float32 batch padded at the end, and their lengths."""
    rows = [torch.as_tensor(s).float() for s in states]
    return nn.utils.rnn.pad_sequence(rows, batch_first=True), torch.tensor([len(r) for r in rows])


def length_groups(order: Sequence[int], lengths: Sequence[int], padded_tokens: int) -> list[list[int]]:
    """``order`` (row indices by ascending length) cut into consecutive groups whose padded size,
    rows x longest row, stays within ``padded_tokens`` (a longer row makes a group alone)."""
    groups: list[list[int]] = []
    group: list[int] = []
    for i in order:
        if group and lengths[i] * (len(group) + 1) > padded_tokens:
            groups.append(group)
            group = []
        group.append(i)
    if group:
        groups.append(group)
    return groups


def shape_for(engine: Any, depth: int, top: int, gru: int, features: int = 0) -> Shape:
    """The Shape of a detector over a LlamaEngine's backbone."""
    if depth + top > len(engine.layers):
        raise ValueError(f"depth {depth} + top {top} is more than the backbone's {len(engine.layers)} layers")
    return Shape(
        hidden=engine.hidden_size, heads=engine.heads, kv_heads=engine.kv_heads, head_dim=engine.head_dim,
        intermediate=engine.intermediate_size, eps=engine.layer_eps, depth=depth, top=top, gru=gru,
        features=features, arch=engine.ARCH,
    )


def initialised(engine: Any, shape: Shape, seed: int) -> DetectorNet:
    """A new network whose top layers start as the backbone's layers depth … depth + top - 1."""
    torch.manual_seed(seed)
    net = DetectorNet(shape)
    net.inv_freq.copy_(engine.inv_freq.float())
    for index, layer in enumerate(net.layers):
        layer.load_backbone(engine.layers[shape.depth + index])
    with torch.no_grad():
        net.head.bias.fill_(-math.log(9.0))  # start near the share of garbled words in the data
    return net
