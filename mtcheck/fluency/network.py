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
                weight = getattr(theirs, "keywords", {}).get("weight")
                if weight is None:
                    weight = theirs.weight
                mine.weight.copy_(weight.float())

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


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


class DetectorNet(nn.Module):
    """Backbone states after ``depth`` layers → per-token disfluency logits."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.shape = shape
        self.layers = nn.ModuleList(_LlamaLayer(shape) for _ in range(shape.top))
        self.norm = nn.LayerNorm(shape.hidden)
        self.gru = nn.GRU(shape.hidden + shape.features, shape.gru, batch_first=True, bidirectional=True)
        self.head = nn.Linear(shape.hidden + shape.features + 2 * shape.gru, 1)
        # The backbone's rotary frequencies (saved with the weights, copied from the engine).
        self.register_buffer("inv_freq", torch.zeros(shape.head_dim // 2))

    def _rope(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = torch.arange(length, dtype=torch.float, device=self.inv_freq.device)[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``states`` [batch, length, hidden + features] (rows padded at the end), ``lengths`` [batch] → logits [batch, length]."""
        batch, length, _ = states.shape
        device = states.device
        valid = torch.arange(length, device=device)[None, :] < lengths.to(device)[:, None]
        causal = torch.ones(length, length, dtype=torch.bool, device=device).tril()
        mask = (causal[None, :, :] & valid[:, None, :])[:, None, :, :]
        cos, sin = self._rope(length)
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
    gate = engine.layers[0][8]
    weight = getattr(gate, "keywords", {}).get("weight")
    intermediate = int((weight if weight is not None else gate.weight).shape[0])
    return Shape(
        hidden=engine.hidden_size, heads=engine.heads, kv_heads=engine.kv_heads, head_dim=engine.head_dim,
        intermediate=intermediate, eps=float(engine.layers[0][1]), depth=depth, top=top, gru=gru,
        features=features,
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
