"""The model cache: where converted models live, how a GGUF file becomes one, and how a folder is
trusted (its manifest of sizes and SHA-256 sums, written last).

Cache layout (``$MTCHECK_CACHE``, else ``$XDG_CACHE_HOME/mtcheck``, else ``~/.cache/mtcheck``)::

    <gguf stem>-<fingerprint>-v<CACHE_FORMAT>/
        config.json  model.safetensors  tokenizer.json  ...
        manifest.json      # written last: a folder without a matching manifest is not trusted

mtcheck.lm.models loads from here; it re-exports these names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from mtcheck.atomic import write_atomic

CACHE_FORMAT = 1
MANIFEST = "manifest.json"
# Files bigger than this (the weights) are hashed when built and again only when their mtime changes.
HASHED_FILE_LIMIT = 16 * 1024 * 1024
FINGERPRINT_CHUNK = 1024 * 1024
STALE_TMP_SECONDS = 3600


# ---------------------------------------------------------------- locations and fingerprints


def cache_root() -> Path:
    """The directory that holds converted models."""
    explicit = os.environ.get("MTCHECK_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mtcheck"


def fingerprint(path: Path) -> str:
    """A cheap identity for a large file: its size and the hash of its first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_CHUNK))
        if size > FINGERPRINT_CHUNK:
            handle.seek(max(FINGERPRINT_CHUNK, size - FINGERPRINT_CHUNK))
            digest.update(handle.read(FINGERPRINT_CHUNK))
    return digest.hexdigest()[:12]


def converted_dir(gguf: Path, root: Path | None = None) -> Path:
    """Where the converted copy of ``gguf`` lives (whether or not it exists yet)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", gguf.stem)
    return (root or cache_root()) / f"{stem}-{fingerprint(gguf)}-v{CACHE_FORMAT}"


# ---------------------------------------------------------------- manifest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe_files(folder: Path) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name == MANIFEST:
            continue
        info = path.stat()
        entry: dict[str, Any] = {"size": info.st_size, "sha256": file_sha256(path)}
        if info.st_size > HASHED_FILE_LIMIT:
            # Too large to hash at every load: hashed again only when its mtime has changed.
            entry["mtime_ns"] = info.st_mtime_ns
        files[path.name] = entry
    return files


def write_manifest(folder: Path, source: Path) -> None:
    from transformers import __version__ as transformers_version

    manifest = {
        "format": CACHE_FORMAT,
        "source": source.name,
        "source_size": source.stat().st_size,
        "source_fingerprint": fingerprint(source),
        "transformers": transformers_version,
        "files": _describe_files(folder),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def manifest_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete conversion, or None when it is."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no manifest"
    except (OSError, ValueError) as exc:
        return f"unreadable manifest ({exc})"
    if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
        return "manifest of another cache format"
    files = manifest.get("files")
    if not isinstance(files, dict) or "config.json" not in files:
        return "manifest lists no config.json"
    if not any(name.endswith(".safetensors") for name in files):
        return "manifest lists no weights"
    touched = False
    for name, entry in files.items():
        path = folder / name
        try:
            info = path.stat()
        except OSError:
            return f"{name} is missing"
        if info.st_size != entry.get("size"):
            return f"{name} has size {info.st_size}, expected {entry.get('size')}"
        if "mtime_ns" in entry and entry["mtime_ns"] == info.st_mtime_ns:
            continue  # unchanged since it was hashed
        if "sha256" not in entry and info.st_size > HASHED_FILE_LIMIT:
            # A cache built before large files were hashed: record its hash now (once).
            entry["sha256"], entry["mtime_ns"], touched = file_sha256(path), info.st_mtime_ns, True
            continue
        if "sha256" in entry and file_sha256(path) != entry["sha256"]:
            return f"{name} does not match its checksum"
        if "mtime_ns" in entry:
            entry["mtime_ns"], touched = info.st_mtime_ns, True
    if touched:  # verified after a copy or a touch: remember, so the next load is cheap again
        try:
            write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2), durable=False)
        except OSError:
            pass  # a read-only cache still loads; it is hashed again next time
    return None


# ---------------------------------------------------------------- conversion


def _clean_stale_tmp(root: Path, final_name: str) -> None:
    now = time.time()
    for path in root.glob(f".tmp-{final_name}-*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(path, ignore_errors=True)


def read_gguf(gguf: Path) -> tuple[Any, Any]:
    """De-quantize a GGUF file into a float32 transformers model and its tokenizer (slow)."""
    from mtcheck.lm.models import _go_offline

    _go_offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, local_files_only=True)
    # The weights are now plain float32: drop the GGUF quantizer so that saving writes ordinary
    # tensors and loading the copy does not ask for the GGUF reader again.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tokenizer


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Convert ``gguf`` into a safetensors folder at ``target``, atomically. Returns ``target``."""
    from mtcheck.lm.models import DEFAULT_GGUF, LMError, _go_offline, _quiet

    _go_offline()
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale_tmp(target.parent, target.name)
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    what = "the packaged model" if gguf.name == DEFAULT_GGUF else gguf.name
    print(f"mtcheck: converting {what} to a local cache (one time, usually under a minute)…", file=sys.stderr, flush=True)
    try:
        with _quiet(capture_stderr=True):
            model, tokenizer = read_gguf(gguf)
            model.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
        write_manifest(tmp, gguf)
        del model
        if target.exists():
            if manifest_problem(target) is None:
                return target  # another process converted it meanwhile; theirs may be in use
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished first; keep its copy if it is complete.
            if manifest_problem(target) is not None:
                raise
    except Exception as exc:
        if isinstance(exc, LMError):
            raise
        raise LMError(f"could not convert {gguf} into {target}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_converted(gguf: Path, root: Path | None = None) -> Path:
    """The converted folder for ``gguf``, building (or rebuilding) it when needed."""
    target = converted_dir(gguf, root)
    problem = manifest_problem(target)
    if problem is None:
        return target
    _check_writable(target.parent)
    if target.exists():
        print(f"mtcheck: the model cache {target} is damaged ({problem}); rebuilding it", file=sys.stderr, flush=True)
    return convert_gguf(gguf, target)


def _check_writable(folder: Path) -> None:
    """Fail at once, not after the conversion's minute of work, when the cache cannot be written."""
    from mtcheck.lm.models import LMError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise LMError(
            f"the model cache folder {folder} is not writable ({exc.strerror or exc}); "
            "set MTCHECK_CACHE to a writable folder"
        ) from None
