"""Command-line interface: a thin layer over Checker and the formatters.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it (or a failed gate), 2 usage
or input error, 3 internal error (one line; ``--debug`` shows the traceback), 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mtcheck import __version__
from mtcheck.cli.common import (
    DEVICES,
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    WEIGHTS_HELP,
    build_config,
    emit,
    fail,
    lm_options,
    refuse_input_as_output,
    selection_options,
)
from mtcheck.config import Config
from mtcheck.errors import MtcheckError, debugging, one_line

FORMAT_NAMES = ("text", "json", "jsonl", "sarif", "github", "junit", "markdown", "html")
MIN_CALIBRATION_SENTENCES = 50
SEVERITIES = click.Choice(["info", "warning", "error"], case_sensitive=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mtcheck")
@click.option("--debug", is_flag=True, help="Show the traceback of an internal error (also accepted after the command).")
def main(debug: bool) -> None:
    """Find garbled machine-translated English and point at the exact spans.

    Exit codes: 0 clean, 1 findings at or above --fail-on (or a failed gate), 2 usage or input
    error, 3 internal error.
    """


def entry(argv: list[str] | None = None) -> None:
    """The console script: ``main`` with every unexpected exception turned into one line and exit 3."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        os.environ["MTCHECK_DEBUG"] = "1"  # the gate's workers read it too
    debug = debugging()
    args = [a for a in args if a != "--debug"]
    _exit_cleanly_on_terminate()
    try:
        result = main.main(args=args, prog_name="mtcheck", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("mtcheck: interrupted", err=True)
        _exit_interrupted()
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("mtcheck: interrupted", err=True)
        _exit_interrupted()
    except BrokenPipeError:
        sys.exit(EXIT_OK)  # the reader (| head) has gone; nothing left to report
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        if debug:
            raise
        click.echo(f"mtcheck: internal error: {one_line(exc)}; rerun with --debug for the traceback", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(result if isinstance(result, int) else EXIT_OK)


def _exit_interrupted() -> None:
    """Exit 130 after Ctrl-C. Files were already cleaned up while unwinding. A Ray driver's own
    exit hooks can crash once interrupted (a segmentation fault was seen after the one line), so
    with Ray loaded the process leaves without running them; the run's Ray was stopped by then."""
    if "ray" not in sys.modules:
        sys.exit(EXIT_INTERRUPTED)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _exit_cleanly_on_terminate() -> None:
    """SIGTERM (a cancelled CI job, ``kill``) unwinds like Ctrl-C, so half-written files are removed."""
    import signal

    def terminate(signum: int, frame: object) -> None:
        click.echo("mtcheck: terminated", err=True)
        raise SystemExit(128 + signum)

    try:
        signal.signal(signal.SIGTERM, terminate)
    except ValueError:
        pass  # not the main thread (an embedding application): leave its handlers alone


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write the report to a file (atomically).")
@click.option("--color/--no-color", default=None, help="Colour the text output [default: when stdout is a terminal].")
@selection_options
@click.option("--fail-on", type=SEVERITIES, default=None, help="Lowest severity that makes the exit code 1 [default: warning].")
@click.option("--source", "source_file", default=None, metavar="FILE",
              help="The text FILES was translated from: adds the accuracy rules (A), paragraph by paragraph.")
@click.option("--source-lang", default=None, metavar="LANG", help="Language of --source (ISO 639-1) [default: detected].")
@lm_options
def check(
    files, fmt, output, color, max_input_size, config_path, select, ignore, fail_on, source_file, source_lang, no_lm,
    model, gguf_file, device, thresholds, weights,
) -> None:
    """Check FILES (or '-' for standard input) and report suspect spans."""
    from mtcheck.inputs import read_source

    if source_file is not None and len(files) != 1:
        fail("--source goes with one file: the translation of that source")
    if source_lang is not None and source_file is None:
        fail("--source-lang goes with --source")
    refuse_input_as_output(output, [*files, *([source_file] if source_file else [])])
    config = build_config(
        config_path, select, ignore, fail_on, no_lm, model, gguf_file, device, thresholds, weights, max_input_size
    )
    try:
        texts = [(read_source(source, config.max_input_size), source) for source in files]
        report = run_checker(config, texts)
        if source_file is not None:
            _add_accuracy(report.documents[0], read_source(source_file, config.max_input_size), config, source_lang)
        rendered = render_report(report, fmt, color, output)
    except MtcheckError as exc:
        fail(str(exc))
    emit(rendered, output)
    worst = report.max_severity()
    sys.exit(EXIT_FINDINGS if worst is not None and worst >= config.fail_on else EXIT_OK)


def _add_accuracy(document_report, source: str, config: Config, language: str | None) -> None:
    from mtcheck.findings import in_text_order
    from mtcheck.source.check import article_findings, kept_by_source

    text = document_report.document.text
    added, _ = article_findings(text, source, config, language)
    kept = [f for f in document_report.findings if kept_by_source(f, text, source)]
    document_report.findings = in_text_order(kept + added)


# A text this long takes seconds with the language model (and a 50 MB one a minute without it):
# long enough that a terminal should show how far the check has got.
PROGRESS_FROM_CHARACTERS = 100_000


def run_checker(config: Config, texts: list[tuple[str, str]]):
    """Check every text; a progress bar (characters checked) on stderr when it is a terminal and
    there are several files or a long one."""
    from mtcheck.pipeline import Checker
    from mtcheck.progress import bar

    checker = Checker(config)
    total = sum(len(text) for text, _ in texts)
    show = sys.stderr.isatty() and (len(texts) > 1 or total >= PROGRESS_FROM_CHARACTERS)
    with bar("checking", total=total, show=show, size=True) as advance:
        return checker.check_many(texts, progress=advance)


def render_report(report, fmt: str, color: bool | None, output: Path | None) -> str:
    from mtcheck.formats import render
    from mtcheck.rules.base import all_rules

    if color is None:
        color = output is None and sys.stdout.isatty()
    return render(report, fmt, rules=all_rules(), color=color)


@main.command("rules")
@click.argument("codes", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_rules(codes: tuple[str, ...], fmt: str) -> None:
    """List every rule with its code, slug, default severity and what it catches.

    With CODES (codes or prefixes: S004, Q), explain those rules in full: what each catches, a bad
    and a good example, and what it leaves alone.
    """
    from mtcheck.rules.base import all_rules

    rules = sorted(all_rules().items())
    if codes:
        wanted = tuple(code.upper() for code in codes)
        unknown = [code for code in wanted if not any(c.startswith(code) for c, _ in rules)]
        if unknown:
            fail(f"no rule has the code {unknown[0]!r} (`mtcheck rules` lists them)")
        # in the order asked ("S004 Q": S004 first), each rule once
        chosen = {code: cls for prefix in wanted for code, cls in rules if code.startswith(prefix)}
        rules = list(chosen.items())
    if fmt == "json":
        import json

        rows = [
            {"code": code, "slug": cls.slug, "severity": str(cls.severity), "family": cls.family(),
             "summary": cls.summary, "description": cls.description()}
            for code, cls in rules
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not codes:
        for code, cls in rules:
            click.echo(f"{code}  {cls.slug:<34} {str(cls.severity):<8} {cls.summary}")
        return
    for index, (code, cls) in enumerate(rules):
        if index:
            click.echo()
        click.echo(f"{code} {cls.slug} ({cls.family()}, default severity {cls.severity})\n")
        click.echo(cls.description().replace("``", ""))  # the docstring's reST literals, shown as plain text


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the thresholds JSON (point 'thresholds' in the config at it).")
@click.option("--span-rate", type=click.FloatRange(0.01, 50), default=0.2, show_default=True,
              help="Allowed F001 warnings per 100 clean sentences.")
@click.option("--sentence-rate", type=click.FloatRange(0.01, 50), default=0.1, show_default=True,
              help="Allowed F002 warnings per 100 clean sentences.")
@click.option("--model", default=None, help="Backbone (default: packaged Gemma-3-270M).")
@click.option("--gguf-file", default=None)
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None, help=WEIGHTS_HELP)
@click.option("--device", type=DEVICES, default="auto")
def calibrate(files, output, span_rate, sentence_rate, model, gguf_file, weights, device) -> None:
    """Refit the detector's thresholds on CLEAN text FILES from your own domain (the weights stay)."""
    import json

    from mtcheck.document import Document
    from mtcheck.inputs import read_source

    refuse_input_as_output(output, list(files))
    try:
        from mtcheck.fluency import calibrate as fitting
        from mtcheck.fluency.detector import Detector

        documents = [Document.parse(read_source(f), f) for f in files]
        sentences = sum(len(d.sentences) for d in documents)
        if sentences < MIN_CALIBRATION_SENTENCES:
            fail(f"calibration needs at least {MIN_CALIBRATION_SENTENCES} clean sentences; the files hold {sentences}")
        detector = Detector.from_config(Config(model=model, gguf_file=gguf_file, weights=weights, device=device))
        probabilities = detector.probabilities(documents)
        thresholds, rates = fitting.fit(
            [("given", d) for d in documents], probabilities, {"span_warning": span_rate, "garbled": sentence_rate}
        )
    except (MtcheckError, ValueError) as exc:
        fail(str(exc))
    emit(json.dumps({**thresholds.to_dict(), "clean_rates": rates["given"]}, indent=2) + "\n", output)
    click.echo(f"mtcheck: wrote {output} ({rates['given']['sentences']} clean sentences)", err=True)


@main.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def train(args) -> None:
    """Train detector weights on the dev data (options: 'mtcheck train --help')."""
    from mtcheck.fluency.train import main as train_main

    sys.exit(train_main(list(args), prog="mtcheck train"))


def _register_subcommands() -> None:
    from mtcheck.cli.gate import gate
    from mtcheck.cli.serve import serve

    main.add_command(gate)
    main.add_command(serve)


_register_subcommands()
