"""The backbone the detector reads: a Llama-architecture causal LM, its tokenizer and its engine.

``Backbone.tokenize`` gives token ids and character offsets into each text, with these
conventions (byte-level BPE glues a word's leading space to the word, and may split one
character's UTF-8 bytes over several tokens):

- a token's leading whitespace is moved out of its span into the gap before it, so
  ``text[start:end]`` is the word or punctuation itself (``"Ġcat"`` → ``"cat"``); a token that is
  only whitespace (``"Ċ"``, a second space) keeps its whitespace as its span;
- tokens that carry parts of the same character all get that character's span;
- a token with no characters at all (rare) gets a zero-width span where the previous one ended;
- ``starts`` and ``ends`` never decrease, and every non-space character is inside some span.

``Backbone.engine`` (mtcheck.lm.engine.LlamaEngine) runs the frozen layers; ``Backbone.threads``
picks the CPU thread count for each pass.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from mtcheck.lm.engine import LlamaEngine
from mtcheck.lm.models import LMError, LoadedModel

# How often the CPU thread count is re-checked (see _ThreadTuner): soon after choosing one thread
# (a burst of load during the probe must not halve the speed for long), rarely after choosing all.
RETUNE_SECONDS = 15.0
RETUNE_ONE_THREAD_SECONDS = 2.0
PROBE_ROUNDS = 4
MANY_THREADS_GAIN = 0.75  # use all threads only when they take under 75% of one thread's time
THREADS_ENV = "MTCHECK_THREADS"
PRECISION_ENV = "MTCHECK_LM_PRECISION"
START_TOKEN_CANDIDATES = ("<|endoftext|>",)


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


class _ThreadTuner:
    """Runs the model with one CPU thread or all of them, whichever a quick timing says is faster.

    On a machine whose cores are busy with other processes, every OpenMP parallel region waits
    for its slowest, descheduled thread: two threads then run small matrix products two to three
    times slower than one. On an idle machine two threads are nearly twice as fast. So the choice
    is timed (tens of ms) on first use and again every RETUNE_SECONDS (RETUNE_ONE_THREAD_SECONDS
    after choosing one thread: a probe hit by a burst of load must not halve the speed of an
    idle machine for long). ``MTCHECK_THREADS`` or
    ``OMP_NUM_THREADS`` in the environment, or the Backbone's ``threads`` argument, fix the count.
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


def engine_for(model: Any) -> type[LlamaEngine]:
    """The engine class that runs ``model``'s layers (Llama or Gemma 3), or LMError saying why none does."""
    from mtcheck.lm.gemma import GemmaEngine

    reasons = []
    for engine_class in (LlamaEngine, GemmaEngine):
        reason = engine_class.unsupported(model)
        if reason is None:
            return engine_class
        reasons.append(reason)
    raise LMError(f"the detector needs a Llama or Gemma 3 backbone: {'; '.join(reasons)}")


def engine_for_config(config: dict[str, Any]) -> type[LlamaEngine]:
    """The engine class for a light load's config.json."""
    from mtcheck.lm.gemma import GemmaEngine

    return GemmaEngine if config.get("model_type") == "gemma3_text" else LlamaEngine


class Backbone:
    """A loaded Llama or Gemma 3 model ready for the detector: tokenizer, start token, engine.

    ``threads``: CPU threads (default: 1 or all, timed; see _ThreadTuner). ``precision``:
    "float32" (default, exact) or "bf16" (opt-in bfloat16 matrix products, see
    LlamaEngine.use_bf16_matmuls); default from ``MTCHECK_LM_PRECISION``.
    """

    def __init__(self, loaded: LoadedModel, attention: str = "bucket", threads: int | None = None,
                 precision: str | None = None) -> None:
        import torch

        self.loaded = loaded
        self.device = torch.device(loaded.device)
        light = loaded.weights
        if light is not None:
            # A light load: the engine runs on its tensors, transformers is never imported.
            self.engine = engine_for_config(light.config).from_weights(light, attention=attention)
            self._backend = light.tokenizer
            self.start_id = _backend_start_id(self._backend, light.config)
        else:
            engine_class = engine_for(loaded.model)
            self.engine = engine_class.from_model(loaded.model, attention=attention)
            self._backend = None
            self.start_id = start_token_id(loaded.tokenizer)
        precision = (precision or os.environ.get(PRECISION_ENV) or "float32").strip().lower()
        if precision not in ("float32", "bf16"):
            raise ValueError(f"precision must be float32 or bf16, not {precision!r}")
        if precision == "bf16" and self.engine.dtype == torch.float32:
            self.engine.use_bf16_matmuls()
        self.threads = _ThreadTuner(threads, self.device)

    @classmethod
    def load(cls, name_or_path: str | None = None, gguf_file: str | None = None, device: str = "auto",
             **kwargs: Any) -> Backbone:
        from mtcheck.lm.models import load_model

        return cls(load_model(name_or_path, gguf_file, device), **kwargs)

    @property
    def identity(self) -> str:
        return self.loaded.identity

    def tokenize(self, texts: Sequence[str]) -> list[tuple[list[int], np.ndarray, np.ndarray]]:
        """Token ids and cleaned (starts, ends) for each text, with no special tokens added."""
        if not texts:
            return []
        if self._backend is not None:
            # The Rust tokenizer itself: what transformers' fast tokenizer calls underneath.
            encodings = self._backend.encode_batch(list(texts), add_special_tokens=False)
            return [(list(e.ids), *clean_offsets(text, e.offsets)) for text, e in zip(texts, encodings)]
        encoded = self.loaded.tokenizer(
            list(texts),
            add_special_tokens=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            # Text that happens to contain "<|endoftext|>" is text, not a control token.
            split_special_tokens=True,
        )
        return [
            (list(ids), *clean_offsets(text, offsets))
            for text, ids, offsets in zip(texts, encoded["input_ids"], encoded["offset_mapping"])
        ]


