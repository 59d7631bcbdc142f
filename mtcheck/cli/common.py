"""What every command shares: one-line errors, atomic report output, and the option groups.

Only click, the standard library and mtcheck.config at import time (``mtcheck --help`` must stay fast).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEVICES = click.Choice(["auto", "cpu", "cuda", "mps"])
WEIGHTS_HELP = "Detector weights from 'mtcheck train' (default: the packaged ones, trained for the packaged model)."


def fail(message: str) -> None:
    """One line on stderr, exit 2 (a message that a library made several lines long is cut to its first)."""
    lines = str(message).strip().splitlines() or [""]
    click.echo(f"mtcheck: error: {lines[0]}" + (" …" if len(lines) > 1 else ""), err=True)
    sys.exit(EXIT_USAGE)


def emit(rendered: str, output: Path | None) -> None:
    """The report on stdout, or written atomically to ``output``."""
    if output is None:
        click.echo(rendered, nl=not rendered.endswith("\n"))
        return
    from mtcheck.formats import write_atomic

    try:
        write_atomic(output, rendered)
    except OSError as exc:
        fail(f"{output}: cannot write report: {exc.strerror or exc}")


FOLDER_DOCUMENT_SUFFIXES = (".txt", ".md")  # what gate reads from a folder (mtcheck.gate.corpus)


def refuse_input_as_output(output: Path | None, inputs: list[str | None]) -> None:
    """Exit 2 when ``output`` is one of the inputs (or would be read as one, inside an input
    folder): writing the report must never replace what the user gave."""
    import glob
    import os

    if output is None:
        return
    target = output.expanduser()
    resolved = target.resolve()
    for raw in inputs:
        if not raw or raw == "-":
            continue
        paths = glob.glob(raw, recursive=True) if glob.has_magic(raw) else [raw]
        for path in map(Path, paths):
            same = path.resolve() == resolved
            if not same and target.exists() and path.exists():
                same = os.path.samefile(path, target)
            inside = path.is_dir() and path.resolve() in resolved.parents and target.suffix.lower() in FOLDER_DOCUMENT_SUFFIXES
            if same or inside:
                fail(f"-o {output} {'is' if same else 'lies inside'} the input {raw}; write the report elsewhere")


def _apply(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _size(ctx, param, value):
    if value is None:
        return None
    from mtcheck.inputs import parse_size

    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


selection_options = _apply([
    click.option("--max-input-size", callback=_size, default=None, metavar="SIZE",
                 help="Largest document read: a file, standard input, one corpus segment (e.g. 64MB, 1GiB) [default: 64MiB]."),
    click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="mtcheck.toml or pyproject.toml to use instead of discovery."),
    click.option("--select", default=None, help="Comma-separated rule codes or prefixes to run (e.g. Q,R001)."),
    click.option("--ignore", default=None, help="Comma-separated rule codes or prefixes to skip."),
])

lm_options = _apply([
    click.option("--no-lm", "no_lm", is_flag=True, help="Heuristic rules only (fast; never loads torch)."),
    click.option("--model", default=None, help="Hugging Face causal LM name or local folder (default: packaged Gemma-3-270M)."),
    click.option("--gguf-file", default=None, help="GGUF file name inside --model's folder."),
    click.option("--device", type=DEVICES, default=None, help="Where the LM runs."),
    click.option("--thresholds", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Fluency thresholds written by 'mtcheck calibrate'."),
    click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None, help=WEIGHTS_HELP),
])


def resolve_config(config_path: Path | None, **overrides: Any):
    """The discovered (or given) config file, with the command line's overrides applied."""
    from mtcheck.config import ConfigError, discover, load_file

    try:
        base = load_file(config_path) if config_path else discover()
    except ConfigError as exc:
        fail(str(exc))
    return base.merged(**overrides)


def build_config(config_path, select, ignore, fail_on, no_lm, model, gguf_file, device, thresholds, weights=None,
                 max_input_size=None):
    from mtcheck.config import ConfigError, parse_codes
    from mtcheck.findings import Severity

    try:
        select, ignore = parse_codes(select, "--select"), parse_codes(ignore, "--ignore")
    except ConfigError as exc:
        fail(str(exc))
    return resolve_config(
        config_path,
        select=select,
        ignore=ignore,
        fail_on=Severity.parse(fail_on) if fail_on else None,
        lm=False if no_lm else None,
        model=model,
        gguf_file=gguf_file,
        device=device,
        thresholds=thresholds,
        weights=weights,
        max_input_size=max_input_size,
    )
