"""Configuration: ``[tool.mtcheck]`` in pyproject.toml or an ``mtcheck.toml`` file.

Keys (all optional)::

    select = ["Q", "R001"]         # code prefixes to run (default: all)
    ignore = ["C002"]              # code prefixes to skip
    fail-on = "warning"            # info | warning | error
    allowlist = ["XI", "iPhone"]   # names and terms never flagged
    lm = true                      # use the language model
    model = "…"                    # HF name or local folder (default: packaged Gemma-3-270M)
    thresholds = "path.json"       # from `mtcheck calibrate`
    weights = "detector.safetensors"  # from `mtcheck train` (default: packaged, for the packaged model)
    max-input-size = "64MiB"       # largest document read (a text file, stdin, one corpus segment)
    length-ratio = { de = [0.7, 1.6] }  # A004: target/source length bounds per source language

    [tool.mtcheck.severity]        # re-severity a rule by code
    P002 = "info"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mtcheck.findings import Severity
from mtcheck.inputs import DEFAULT_MAX_INPUT_BYTES, parse_size


class ConfigError(ValueError):
    """A configuration file or option is invalid."""


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, Severity] = field(default_factory=dict)
    allowlist: frozenset[str] = frozenset()
    fail_on: Severity = Severity.WARNING
    lm: bool = True
    model: str | None = None
    gguf_file: str | None = None
    device: str = "auto"
    thresholds: Path | None = None
    weights: Path | None = None
    max_input_size: int = DEFAULT_MAX_INPUT_BYTES
    length_ratio: dict[str, tuple[float, float]] = field(default_factory=dict)
    source: Path | None = None

    def enabled(self, code: str) -> bool:
        selected = not self.select or any(code.startswith(p) for p in self.select)
        ignored = any(code.startswith(p) for p in self.ignore)
        return selected and not ignored

    def severity_for(self, code: str, default: Severity) -> Severity:
        best = None
        for prefix, severity in self.severity.items():
            if code.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, severity)
        return best[1] if best else default

    def merged(self, **overrides: Any) -> "Config":
        """A copy with every override that is not None applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


DEVICES = ("auto", "cpu", "cuda", "mps")
KNOWN_KEYS = {
    "select", "ignore", "severity", "allowlist", "fail-on", "lm", "model", "gguf-file", "device", "thresholds", "weights",
    "max-input-size", "length-ratio",
}


def _codes(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'{key}' must be a list of rule codes")
    return validate_codes((v.strip().upper() for v in value), key)


def validate_codes(codes: Any, where: str) -> tuple[str, ...]:
    """``codes`` (upper-case rule codes or prefixes) as a tuple, or ConfigError naming the first
    unknown one and the nearest known code. The CLI, config files and ``serve`` all use this."""
    codes = tuple(codes)
    if not codes:
        return ()  # nothing to look up: no need to import every rule module
    import difflib

    from mtcheck.rules import load_builtin_rules
    from mtcheck.rules.base import FAMILIES, all_rules

    load_builtin_rules()
    known = sorted(all_rules())
    out = []
    for code in codes:
        if not code or not any(rule.startswith(code) for rule in known):
            near = difflib.get_close_matches(code, known + sorted(FAMILIES), n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]}?" if near else f"; known prefixes: {', '.join(sorted(FAMILIES))}"
            raise ConfigError(f"unknown rule code or prefix {code!r} in {where}{hint} (see `mtcheck rules`)")
        out.append(code)
    return tuple(out)


def parse_codes(value: str | None, option: str = "codes") -> tuple[str, ...] | None:
    return None if value is None else _codes(value, option)


def _string(table: dict[str, Any], key: str, source: Any) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{source or 'config'}: '{key}' must be a string, not {value!r}")
    return value


def from_mapping(table: dict[str, Any], base_dir: Path | None = None, source: Path | None = None) -> Config:
    unknown = set(table) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))} in {source or 'config'}")
    where = str(source or "config")
    try:
        table_severity = table.get("severity", {})
        if not isinstance(table_severity, dict):
            raise ConfigError(f"{where}: 'severity' must be a table of CODE = \"info|warning|error\"")
        codes = validate_codes([code.upper() for code in table_severity], f"{where} [severity]")
        severity = {code: Severity.parse(level) for code, level in zip(codes, table_severity.values())}
        fail_on = Severity.parse(table.get("fail-on", "warning"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(str(exc) if isinstance(exc, ConfigError) else f"{where}: {exc}") from None
    allowlist = table.get("allowlist", [])
    if not isinstance(allowlist, list) or not all(isinstance(a, str) for a in allowlist):
        raise ConfigError(f"{where}: 'allowlist' must be a list of strings")
    device = _string(table, "device", source) or "auto"
    if device not in DEVICES:
        raise ConfigError(f"{where}: 'device' must be one of {', '.join(DEVICES)}, not {device!r}")
    lm = table.get("lm", True)
    if not isinstance(lm, bool):
        raise ConfigError(f"{source or 'config'}: 'lm' must be true or false, not {lm!r}")
    thresholds, weights = (_path(_string(table, key, source), base_dir) for key in ("thresholds", "weights"))
    try:
        max_input_size = parse_size(table.get("max-input-size", DEFAULT_MAX_INPUT_BYTES))
    except ValueError as exc:
        raise ConfigError(f"{where}: 'max-input-size': {exc}") from None
    return Config(
        length_ratio=_length_ratios(table.get("length-ratio", {}), where),
        select=_codes(table.get("select", []), f"{where} 'select'"),
        ignore=_codes(table.get("ignore", []), f"{where} 'ignore'"),
        severity=severity,
        allowlist=frozenset(str(a) for a in allowlist),
        fail_on=fail_on,
        lm=lm,
        model=_string(table, "model", source),
        gguf_file=_string(table, "gguf-file", source),
        device=device,
        thresholds=thresholds,
        weights=weights,
        max_input_size=max_input_size,
        source=source,
    )


def _length_ratios(value: Any, where: str) -> dict[str, tuple[float, float]]:
    """``{language = [low, high]}``: the bounds A004 uses instead of the fitted ones."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'length-ratio' must be a table of LANGUAGE = [low, high]")
    out = {}
    for language, bounds in value.items():
        if (
            not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
            or not 0 < bounds[0] < bounds[1]
        ):
            raise ConfigError(f"{where}: 'length-ratio.{language}' must be [low, high] with 0 < low < high, not {bounds!r}")
        out[language.lower()] = (float(bounds[0]), float(bounds[1]))
    return out


def _path(value: Any, base_dir: Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return base_dir / path if base_dir and not path.is_absolute() else path


def load_file(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("mtcheck", {}) if path.name == "pyproject.toml" else data
    return from_mapping(table, base_dir=path.parent, source=path)


def discover(start: Path | None = None) -> Config:
    """The nearest mtcheck.toml, or pyproject.toml with a [tool.mtcheck] table, upwards from start."""
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / "mtcheck.toml"
        if candidate.is_file():
            return load_file(candidate)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read config {pyproject}: {exc}") from None
            except tomllib.TOMLDecodeError as exc:
                # A project file we cannot parse may hold our settings: guessing either way is wrong.
                raise ConfigError(f"{pyproject}: invalid TOML: {exc} (fix it, or pass --config)") from None
            if "mtcheck" in data.get("tool", {}):
                return load_file(pyproject)
    return Config()
