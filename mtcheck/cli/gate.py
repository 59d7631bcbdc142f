"""``mtcheck gate``: pass or fail a whole translated corpus in CI, with the evidence.

Exit codes: 0 the gate passed, 1 it failed (every reason is listed), 2 usage or input error.
Only click and the standard library are imported here; the checker, sacrebleu and rich are
imported when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mtcheck.cli.common import (
    build_config,
    emit,
    fail,
    lm_options,
    refuse_input_as_output,
    selection_options,
)

GATE_FORMATS = ("text", "json", "jsonl", "sarif", "github", "junit", "markdown")
EXTENSIONS = {
    ".txt": "text", ".json": "json", ".jsonl": "jsonl", ".sarif": "sarif",
    ".log": "github", ".xml": "junit", ".md": "markdown",
}
EXIT_PASS, EXIT_FAIL = 0, 1


@click.command("gate", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1)
@click.option("--hyp", type=click.Path(dir_okay=False), default=None,
              help="Line-aligned hypothesis file (one segment per line, as sacrebleu reads it).")
@click.option("--src", type=click.Path(dir_okay=False), default=None, help="Line-aligned source file for --hyp.")
@click.option("--ref", "refs", type=click.Path(dir_okay=False), multiple=True,
              help="Line-aligned reference file for --hyp (repeat for several references).")
@click.option("--text-field", default="text", show_default=True, help="JSONL key / table column holding the translation.")
@click.option("--id-field", default=None, help="Key / column of the segment id [default: 'id' when present, else the line number].")
@click.option("--doc-field", default=None, help="Key / column of the document id: segments sharing it are checked together.")
@click.option("--src-field", default=None, help="Key / column of the source text.")
@click.option("--source-lang", default=None, metavar="LANG",
              help="Language of the sources (ISO 639-1: zh, de…) for the accuracy rules [default: detected].")
@click.option("--ref-field", "ref_fields", multiple=True, help="Key / column of a reference (repeat for several).")
@click.option("--max-flag-rate", type=click.FloatRange(min=0), default=None,
              help="Fail above this many warning/error findings per 100 sentences.")
@click.option("--fail-on", type=click.Choice(["info", "warning", "error"], case_sensitive=False), default=None,
              help="Fail on any finding at or above this severity [default, when no other threshold is given: "
                   "the config's fail-on, else warning].")
@click.option("--max-findings", type=click.IntRange(min=0), default=None, help="Fail above this many findings (any severity).")
@click.option("--min-chrf", type=click.FloatRange(0, 100), default=None, help="Fail below this corpus chrF (needs references).")
@click.option("--min-bleu", type=click.FloatRange(0, 100), default=None, help="Fail below this corpus BLEU (needs references).")
@click.option("--min-fluency", type=click.FloatRange(0, 1), default=None,
              help="Fail below this mean document fluency (needs the language model).")
@click.option("--format", "fmt", type=click.Choice(GATE_FORMATS), default=None,
              help="Also write the findings in this format, with the gate summary added [default: from --output's extension].")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the --format report to a file (atomically) instead of standard output.")
@click.option("--color/--no-color", default=None, help="Colour the terminal summary [default: when it goes to a terminal].")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Result cache folder [default: $MTCHECK_CACHE/results, else ~/.cache/mtcheck/results].")
@click.option("--no-cache", is_flag=True, help="Neither read nor write cached results.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes for the heuristic rules (with --no-lm).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Run the checks on Ray: a local Ray when no ADDRESS is given, 'auto' for the cluster this "
                   "machine belongs to, or its head's HOST:PORT. Needs: pip install 'mtcheck[ray]'.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Ray actors, each with its own checker and model [default: as many as the cluster's CPUs, "
                   "or its GPUs with --gpus-per-worker].")
@click.option("--cpus-per-worker", type=click.IntRange(min=1), default=1, show_default=True,
              help="CPUs Ray gives each actor (its torch threads).")
@click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0, show_default=True,
              help="GPUs Ray gives each actor (the model runs there with --device auto or cuda).")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Documents per Ray batch (the unit Ray retries when a worker dies).")
@click.option("--progress", "show_progress", is_flag=True, help="Show a progress bar even when stderr is not a terminal.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary; only the exit code and --format output.")
@selection_options
@lm_options
def gate(
    inputs, hyp, src, refs, text_field, id_field, doc_field, src_field, ref_fields, source_lang,
    max_flag_rate, fail_on, max_findings, min_chrf, min_bleu, min_fluency,
    fmt, output, color, cache_dir, no_cache, jobs, ray_address, workers, cpus_per_worker, gpus_per_worker, batch_size,
    show_progress, quiet,
    max_input_size, config_path, select, ignore, no_lm, model, gguf_file, device, thresholds, weights,
) -> None:
    """Check a translated corpus and pass or fail it against thresholds.

    INPUTS are folders (every .txt/.md file inside is one document), globs, text files, or
    JSONL/TSV/CSV files with one segment per line or row. For sacrebleu-style line-aligned files
    use --hyp (with --src and --ref). Exit code 0: passed, 1: failed, 2: usage or input error.
    """
    from mtcheck.errors import MtcheckError
    from mtcheck.findings import Severity
    from mtcheck.gate.summary import Thresholds

    if hyp and inputs:
        fail("give either INPUTS or --hyp, not both")
    if not hyp and not inputs:
        fail("nothing to check: give a folder, files or a glob, or --hyp FILE")
    if (src or refs) and not hyp:
        fail("--src and --ref go with --hyp (for JSONL/TSV/CSV use --src-field and --ref-field)")
    engine_settings = _ray_settings(ray_address, workers, cpus_per_worker, gpus_per_worker, batch_size, jobs)
    refuse_input_as_output(output, [*inputs, hyp, src, *refs])
    if fmt is None and output is not None:
        fmt = EXTENSIONS.get(output.suffix.lower())
        if fmt is None:
            fail(f"cannot tell the format of {output} from its extension; give --format")

    config = build_config(
        config_path, select, ignore, fail_on, no_lm, model, gguf_file, device, thresholds, weights, max_input_size
    )
    uses_lm = bool(config.lm and config.enabled("F"))
    if min_fluency is not None and not uses_lm:
        fail("--min-fluency needs the language model (drop --no-lm and keep the F rules selected)")
    explicit = (max_flag_rate, max_findings, min_chrf, min_bleu, min_fluency)
    thresholds = Thresholds(
        max_flag_rate=max_flag_rate,
        # Like `check`: with no threshold at all, any finding at or above fail-on fails the gate.
        fail_on=Severity.parse(fail_on) if fail_on else (config.fail_on if all(v is None for v in explicit) else None),
        max_findings=max_findings,
        min_chrf=min_chrf,
        min_bleu=min_bleu,
        min_fluency=min_fluency,
    )

    try:
        corpus, segments = _open(inputs, hyp, src, refs, text_field, id_field, doc_field, src_field, ref_fields,
                                 config.max_input_size)
        if (min_chrf is not None or min_bleu is not None) and not corpus.has_refs:
            fail("--min-chrf/--min-bleu need references: --ref with --hyp, or --ref-field")
        engine = _engine(config, engine_settings)
        show = (show_progress or sys.stderr.isatty()) and not quiet
        tally, report, seconds = _run(corpus, segments, config, cache_dir, no_cache, jobs, engine, show, source_lang,
                                      [hyp] if hyp else inputs, aligned=bool(hyp), report_format=fmt)
        summary = tally.summary(thresholds, seconds)
        report_color = (sys.stdout.isatty() if color is None else color) and output is None
        rendered = render_with_gate(report, summary, fmt, color=report_color) if fmt else None
    except MtcheckError as exc:
        fail(str(exc))
    except Exception as exc:  # the LM layer's own errors (model not installed, bad device)
        from mtcheck.lm.models import LMError

        if isinstance(exc, LMError):
            fail(str(exc))
        raise

    if rendered is not None:
        emit(rendered, output)
    report_on_stdout = fmt is not None and output is None
    # The text format already ends with the summary; other reports on stdout push it to stderr.
    if not quiet and not (fmt == "text" and report_on_stdout):
        _print_summary(summary, to_stderr=report_on_stdout, color=color)
    sys.exit(EXIT_PASS if summary["passed"] else EXIT_FAIL)


def _open(inputs, hyp, src, refs, text_field, id_field, doc_field, src_field, ref_fields, limit):
    from mtcheck.gate.corpus import FieldNames, open_aligned, open_corpus

    if hyp:
        return open_aligned(hyp, src, refs, limit=limit)
    names = FieldNames(text=text_field, id=id_field, doc=doc_field, src=src_field, refs=tuple(ref_fields))
    return open_corpus(inputs, names, limit=limit)


def _ray_settings(address, workers, cpus_per_worker, gpus_per_worker, batch_size, jobs):
    """The Ray settings when --ray is given (Ray itself is checked for here, before any reading)."""
    if address is None:
        if workers is not None or cpus_per_worker != 1 or gpus_per_worker or batch_size != 64:
            fail("--workers, --cpus-per-worker, --gpus-per-worker and --batch-size go with --ray")
        return None
    if jobs != 1:
        fail("give --jobs (processes on this machine) or --ray (Ray workers), not both")
    from mtcheck.errors import MtcheckError
    from mtcheck.gate.ray_engine import RaySettings, check_address, import_ray

    try:
        check_address(address)
        import_ray()
    except MtcheckError as exc:
        fail(str(exc))
    return RaySettings(address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                       gpus_per_worker=gpus_per_worker, batch_size=batch_size)


def _engine(config, ray_settings):
    if ray_settings is None:
        return None  # the gate's LocalEngine
    from mtcheck.gate.ray_engine import RayEngine

    return RayEngine(config, ray_settings)


def _run(corpus, segments, config, cache_dir, no_cache, jobs, engine, show_progress, source_lang, named, aligned,
         report_format):
    """Check the stream slice by slice; the tally of the runs, the report on the files (when a
    ``report_format`` is asked for) and the seconds it took. No slice outlives its turn."""
    import time

    from mtcheck.gate.anchored import AnchoredReport
    from mtcheck.gate.cache import ResultCache, default_cache_dir, namespace_for
    from mtcheck.gate.run import run_gate_slices
    from mtcheck.gate.tally import GateTally
    from mtcheck.progress import bar

    cache = None if no_cache else ResultCache(cache_dir or default_cache_dir(), namespace_for(config))
    from mtcheck.formats import formatter

    report = None
    if report_format is not None:
        report = AnchoredReport(corpus, per_finding=formatter(report_format).per_finding)
    tally = GateTally()
    began = time.perf_counter()
    total = _estimated_segments(named, aligned) if show_progress else None
    with bar("checking", total=total, unit="segments", show=show_progress) as advance:
        for run in run_gate_slices(corpus, segments, config, cache=cache, jobs=jobs, engine=engine,
                                   source_language=source_lang, progress=advance if show_progress else None):
            tally.add(run)
            if report is not None:
                report.add(run)
    return tally, report, time.perf_counter() - began


def _estimated_segments(named, aligned: bool) -> int | None:
    """About how many segments the corpus holds, for the progress bar: the lines of its record
    files (counted in a quick binary pass), one per text document; None where a pipe is read."""
    import os
    import stat

    from mtcheck.errors import InputError
    from mtcheck.gate.corpus import TABLE_SUFFIXES, expand_inputs

    try:
        paths = expand_inputs(named)
    except InputError:
        return None  # the run itself says what is wrong
    total = 0
    for path in paths:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return None
            suffix = os.path.splitext(path)[1].lower()
            if not aligned and suffix not in TABLE_SUFFIXES:
                total += 1
                continue
            lines = 0
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 22):
                    lines += chunk.count(b"\n")
            total += max(lines - (suffix in (".tsv", ".csv") and not aligned), 0)
        except OSError:
            return None
    return total or None


def _print_summary(summary: dict[str, Any], to_stderr: bool, color: bool | None) -> None:
    from mtcheck.gate.summary import summary_text

    stream = sys.stderr if to_stderr else sys.stdout
    if color is None:
        color = stream.isatty()
    click.echo(summary_text(summary, color=color), file=stream, nl=False)


def render_with_gate(report: Any, summary: dict[str, Any], fmt: str, color: bool = False) -> str:
    """The findings of ``report`` (the gate's AnchoredReport on the corpus files) in ``fmt``, with
    the gate summary added."""
    from mtcheck.formats import formatter
    from mtcheck.formats.base import RenderOptions
    from mtcheck.rules.base import all_rules

    chosen = formatter(fmt)
    options = RenderOptions(rules=all_rules(), color=color)
    if report.per_finding:
        rendered = chosen.render_located(report.located(), options)
    else:
        rendered = chosen.render(report.report(), options)
    return chosen.with_gate(rendered, summary, options)
