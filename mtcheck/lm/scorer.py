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
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mtcheck.lm.models import LMError, LoadedModel

# Rows of the vocabulary projection computed at once: bounds the [rows, vocab] float32 buffer.
HEAD_CHUNK = 512
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


class Scorer:
    """Token log-probabilities, entropies and hidden states for paragraphs of text."""

    def __init__(
        self,
        loaded: LoadedModel,
        batch_size: int = 8,
        max_tokens: int = 1024,
        context_tokens: int = 256,
        token_budget: int | None = None,
    ) -> None:
        import torch

        if batch_size < 1 or max_tokens < 4 or context_tokens < 0:
            raise ValueError("batch_size must be >= 1, max_tokens >= 4 and context_tokens >= 0")
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.device = torch.device(loaded.device)
        self.batch_size = batch_size
        # A window holds the start token plus window - 1 text tokens.
        self.window = max(4, min(max_tokens, loaded.max_positions))
        self.context_tokens = min(context_tokens, (self.window - 1) // 2)
        self.token_budget = token_budget or batch_size * self.window
        self.start_id = start_token_id(self.tokenizer)
        self._decoder = self.model.get_decoder() if hasattr(self.model, "get_decoder") else None
        self._head = self.model.get_output_embeddings()
        if self._decoder is None or self._head is None:
            raise LMError(f"{type(self.model).__name__} does not expose a decoder and an output head")
        self._head_weight32: Any = None
        # transformers 5.x renamed the attention-cache argument from past_key_values to cache.
        parameters = inspect.signature(self._decoder.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"

    @classmethod
    def load(
        cls, name_or_path: str | None = None, gguf_file: str | None = None, device: str = "auto", **kwargs: Any
    ) -> "Scorer":
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

    # ------------------------------------------------------------ model arithmetic

    def _logits(self, rows: Any) -> Any:
        """Vocabulary logits (float32) for hidden-state rows, applying known output quirks."""
        import torch
        import torch.nn.functional as F

        head = self._head
        if rows.dtype != torch.float32 and isinstance(head, torch.nn.Linear):
            # bfloat16 logits are too coarse for log-probabilities: project in float32.
            if self._head_weight32 is None:
                bias = None if head.bias is None else head.bias.float()
                self._head_weight32 = (head.weight.float(), bias)
            weight, bias = self._head_weight32
            logits = F.linear(rows.float(), weight, bias)
        else:
            logits = head(rows).float()
        config = self.model.config
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

    def _token_stats(self, rows: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
        """Log-probability of each target and the entropy, for predictive hidden-state rows."""
        import torch

        logprobs, entropies = [], []
        for begin in range(0, rows.shape[0], HEAD_CHUNK):
            logits = self._logits(rows[begin : begin + HEAD_CHUNK])
            norm = torch.logsumexp(logits, dim=-1)
            target = logits.gather(1, targets[begin : begin + HEAD_CHUNK, None]).squeeze(1)
            logprobs.append(target - norm)
            probs = torch.softmax(logits, dim=-1)
            entropies.append(norm - (probs * logits).sum(dim=-1))
        if not logprobs:
            empty = np.zeros(0, dtype=np.float32)
            return empty, empty
        return (
            torch.cat(logprobs).cpu().numpy().astype(np.float32),
            torch.cat(entropies).cpu().numpy().astype(np.float32),
        )

    def _run(self, input_ids: Any, attention_mask: Any, hidden_layer: int | None) -> tuple[Any, Any]:
        """Final (normed) hidden states and, when asked, the states of ``hidden_layer``."""
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

    # ------------------------------------------------------------ public API

    def score(self, texts: Sequence[str], hidden_layer: int | None = None) -> list[TokenScores]:
        """Score each text (a paragraph) token by token; see the module docstring.

        ``hidden_layer`` (index into the model's hidden states: 0 = embeddings, -1 = the final,
        normalized layer) adds ``hidden``: that layer's state at each token's own position.
        """
        import torch

        texts = list(texts)
        tokenized = self.tokenize(texts)
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
            width = int(self.model.config.hidden_size)
            for out in outputs:
                out.hidden = np.zeros((len(out), width), dtype=np.float32)

        with torch.inference_mode():
            for batch in self._batches(pieces):
                self._score_batch(batch, outputs, hidden_layer)
        return outputs

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

    def continuation_logprob(self, prefix: str, candidates: Sequence[str]) -> list[float]:
        """Total logprob of each ``prefix + candidate`` beyond the prefix, given the start token.

        ``prefix + candidate`` is tokenized as one text, and every token that ends after the
        prefix counts (a token straddling the boundary counts in full). The tokens all candidates
        share are run once and their attention cache is reused for the candidates' tails.
        An empty candidate scores 0.0.
        """
        import torch

        candidates = list(candidates)
        if not candidates:
            return []
        tokenized = self.tokenize([prefix + c for c in candidates])
        cut = len(prefix)
        ids_list = [ids for ids, _, _ in tokenized]
        first = [int(np.searchsorted(ends, cut, side="right")) for _, _, ends in tokenized]
        shared = min(min(first), _common_prefix_length(ids_list))
        results = [0.0] * len(candidates)
        todo = [i for i in range(len(candidates)) if first[i] < len(ids_list[i])]
        if not todo:
            return results
        longest_tail = max(len(ids_list[i]) - shared for i in todo)
        keep = self.window - 1 - longest_tail  # prefix tokens that fit beside the longest tail
        if keep < 0:
            # A candidate alone overflows a window: fall back to windowed scoring.
            for i, scores in zip(todo, self.score([prefix + candidates[i] for i in todo])):
                results[i] = float(scores.logprobs[first[i] :].sum(dtype=np.float64))
            return results
        prefix_ids = [self.start_id, *ids_list[todo[0]][max(0, shared - keep) : shared]]

        todo.sort(key=lambda i: len(ids_list[i]), reverse=True)
        with torch.inference_mode():
            for begin in range(0, len(todo), self.batch_size):
                group = todo[begin : begin + self.batch_size]
                tails = [ids_list[i][shared:] for i in group]
                totals = self._continuation_group(prefix_ids, tails, [first[i] - shared for i in group])
                for i, total in zip(group, totals):
                    results[i] = total
        return results

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
        logprobs, _ = self._token_stats(predictors[index_b, index_t], input_ids[index_b, index_t])
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
