"""Reading a translated corpus for ``mtcheck gate``.

Four layouts, all turned into :class:`Segment` objects:

- a folder (recursive ``*.txt``/``*.md``), a glob, or single text files: each file is one document;
- JSONL, one segment per line, with configurable field names;
- TSV/CSV with a header row naming the columns (TSV is split on tabs with no quoting, as WMT and
  sacrebleu files are; CSV follows the ``csv`` module's default dialect);
- sacrebleu-style line-aligned files: ``--hyp out.en [--src in.zh] [--ref ref.en ...]``.

Files of records are read one line at a time (a 10 GB JSONL is never one string in memory); each
segment remembers where its record sits in the file and how its value is encoded there, so a
report can later point a finding at the file's real line and column (:mod:`mtcheck.gate.corpus_offsets`).

Segments that share a document id are checked together: :func:`build_documents` joins them with a
blank line (one paragraph per segment) and keeps the offset of each segment in the joined text.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import glob
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

from mtcheck.errors import InputError
from mtcheck.inputs import DEFAULT_MAX_INPUT_BYTES, FileStamp, LineReader, read_source

SEGMENT_SEPARATOR = "\n\n"
TEXT_SUFFIXES = (".txt", ".md")
TABLE_SUFFIXES = (".jsonl", ".tsv", ".csv")
GLOB_CHARS = re.compile(r"[*?\[]")
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # where a stream opened with newline="" ends a line at '\r'

# How a segment's text is stored in its record (decides how offsets map back to the file).
FILE, LINE, JSONL, TSV, CSV = "file", "line", "jsonl", "tsv", "csv"


@dataclass(frozen=True, slots=True)
class Segment:
    """One unit of translated text and the place it came from."""

    id: str
    text: str
    file: str  # the corpus file as the user named it (a key of Corpus.files)
    line: int  # 1-based line where the segment's record starts
    doc: str | None = None  # document id; None: the segment is a document on its own
    src: str | None = None
    refs: tuple[str, ...] = ()
    encoding: str = LINE
    record: tuple[int, int] = (0, 0)  # span of the record in the file's decoded text
    field: str | int | None = None  # JSON key or column index that holds the text
    # The record as the file has it (a JSONL line, a table row), for locating findings in it
    # without the file; None where the text itself stands at ``record[0]`` (FILE, LINE).
    raw: str | None = dataclasses.field(default=None, repr=False, compare=False)


@dataclass
class Corpus:
    segments: list[Segment]
    files: list[str] = field(default_factory=list)  # the corpus files, in reading order
    ref_count: int = 0  # references per segment (0: no reference metrics)
    # Texts kept in memory: named pipes and devices, which cannot be read twice. Files are read
    # again, only when a report needs their text, and must not have changed in between.
    retained: dict[str, str] = field(default_factory=dict)
    readers: dict[str, FileStamp] = field(default_factory=dict, repr=False)

    @property
    def has_refs(self) -> bool:
        return self.ref_count > 0

    def file_text(self, name: str) -> str:
        """A corpus file's decoded text, for locating findings in it (read again if need be)."""
        if name in self.retained:
            return self.retained[name]
        reader = self.readers.get(name)
        if reader is not None and not reader.unchanged():
            raise InputError(f"{name}: the file changed while it was being checked; run the gate again")
        return read_source(name, RECORD_FILE_LIMIT)


@dataclass(frozen=True)
class FieldNames:
    """Which JSONL keys / table columns hold what."""

    text: str = "text"
    id: str | None = None  # None: "id" when present, else the line number
    doc: str | None = None
    src: str | None = None
    refs: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------ reading


# Only for reading a file again when a report needs its text: record files are streamed.
RECORD_FILE_LIMIT = 1 << 62
# A record's raw line may be longer than the text it holds (JSON writes a control character as
# six bytes): the input limit applies to the segment, this multiple of it to the line.
RECORD_LINE_FACTOR = 6


def _lines(path: str, corpus: Corpus, limit: int) -> LineReader:
    reader = LineReader(path, line_limit=limit * RECORD_LINE_FACTOR, whole_limit=limit * RECORD_LINE_FACTOR)
    corpus.readers[path] = reader
    if reader.retained is not None:
        corpus.retained[path] = reader.retained
    return reader


def _check_segment_size(segment: Segment, limit: int) -> None:
    if len(segment.text) > limit or len(segment.text.encode("utf-8")) > limit:
        raise InputError(
            f"{segment.file}:{segment.line}: a segment larger than the input limit of {limit:,} bytes; "
            "raise it with --max-input-size"
        )


def expand_inputs(inputs: Sequence[str]) -> list[str]:
    """Files named by INPUTS: folders are searched recursively for text files, globs are expanded."""
    files: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.suffix.lower() in TEXT_SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise InputError(f"{item}: no .txt or .md files in this folder")
            files.extend(str(p) for p in found)
        elif path.exists():
            files.append(item)
        elif GLOB_CHARS.search(item):
            matches = sorted(m for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise InputError(f"{item}: the pattern matches no files")
            files.extend(matches)
        else:
            raise InputError(f"{item}: no such file or directory")
    return list(dict.fromkeys(files))  # a file named twice is read once


def read_corpus(inputs: Sequence[str], names: FieldNames = FieldNames(), limit: int = DEFAULT_MAX_INPUT_BYTES) -> Corpus:
    """Segments from folders, globs, text files, JSONL, TSV and CSV files, all in memory."""
    corpus, segments = open_corpus(inputs, names, limit)
    corpus.segments = list(segments)
    return corpus


def open_corpus(
    inputs: Sequence[str], names: FieldNames = FieldNames(), limit: int = DEFAULT_MAX_INPUT_BYTES
) -> tuple[Corpus, Iterator[Segment]]:
    """The corpus (its ``files`` filled in as they are reached) and its segments as a stream: a
    file is read only as far as the stream has been consumed."""
    corpus = Corpus(segments=[], ref_count=len(names.refs))
    files = expand_inputs(inputs)

    def segments() -> Iterator[Segment]:
        count = 0
        for path in files:
            suffix = Path(path).suffix.lower()
            corpus.files.append(path)
            if suffix == ".jsonl":
                found: Iterable[Segment] = read_jsonl(path, _lines(path, corpus, limit), names)
            elif suffix in (".tsv", ".csv"):
                found = read_table(path, _lines(path, corpus, limit), names)
            else:
                if names.refs:
                    raise InputError(f"{path}: a text file has no reference field; give references in JSONL/TSV/CSV or with --hyp/--ref")
                stamp = corpus.readers[path] = FileStamp(path)
                text = read_source(path, limit)
                if stamp.identity is None:
                    corpus.retained[path] = text
                found = [Segment(id=path, text=text, file=path, line=1, encoding=FILE, record=(0, len(text)))]
            for segment in found:
                _check_segment_size(segment, limit)
                count += 1
                yield segment
        if not count:
            raise InputError(f"{', '.join(inputs)}: the corpus has no segments")

    return corpus, segments()


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _text_value(record: dict[str, Any], key: str, where: str, role: str) -> str:
    if key not in record:
        raise InputError(f"{where}: missing {role} field '{key}'")
    value = record[key]
    if not isinstance(value, str):
        raise InputError(f"{where}: {role} field '{key}' is {type(value).__name__}, not a string")
    return value


def _segment_fields(record: dict[str, Any], names: FieldNames, where: str, fallback_id: str) -> dict[str, Any]:
    if names.id is not None and names.id not in record:
        raise InputError(f"{where}: missing id field '{names.id}'")
    id_key = names.id or "id"
    if names.doc is not None and names.doc not in record:
        raise InputError(f"{where}: missing document field '{names.doc}'")
    return {
        "text": _text_value(record, names.text, where, "text"),
        "id": _scalar(record[id_key]) if record.get(id_key) is not None else fallback_id,
        "doc": None if names.doc is None else _scalar(record[names.doc]),
        "src": None if names.src is None else _text_value(record, names.src, where, "source"),
        "refs": tuple(_text_value(record, key, where, "reference") for key in names.refs),
    }


def read_jsonl(path: str, lines: Iterable[tuple[int, int, str]], names: FieldNames) -> Iterator[Segment]:
    for number, start, line in lines:
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise InputError(f"{where}: JSON nested too deeply to be a segment record") from None
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
        values = _segment_fields(record, names, where, fallback_id=str(number))
        yield Segment(file=path, line=number, encoding=JSONL, record=(start, start + len(line)), field=names.text,
                      raw=line, **values)


def _header(path: str, cells: list[str], names: FieldNames) -> dict[str, int]:
    columns = {cell.strip(): i for i, cell in reversed(list(enumerate(cells)))}  # first of duplicate names wins
    wanted = [("text", names.text), ("id", names.id), ("document", names.doc), ("source", names.src)]
    wanted += [("reference", ref) for ref in names.refs]
    for role, name in wanted:
        if name is not None and name not in columns:
            listed = ", ".join(c.strip() for c in cells)
            raise InputError(f"{path}:1: no {role} column '{name}' (columns: {listed})")
    return columns


def _table_rows(path: str, lines: Iterable[tuple[int, int, str]]) -> Iterator[tuple[int, tuple[int, int], list[str], str]]:
    """(line number, record span, cells, the record as written) for each row, header first."""
    if path.lower().endswith(".tsv"):
        # TSV is split on tabs with no quoting, like WMT/sacrebleu TSV files: quotes are text.
        for number, start, line in lines:
            content = line[:-1] if line.endswith("\r") else line
            if content.strip():
                yield number, (start, start + len(content)), content.split("\t"), content
        return
    # The csv module counts lines as a stream opened with newline="" splits them ('\r', '\n' or
    # '\r\n'); ``physical`` splits each '\n'-line that way and tracks where the reader has got to.
    position = 0
    pieces: list[str] = []  # what the reader has taken since the last record

    def physical() -> Iterator[str]:
        nonlocal position
        for _, start, line in lines:
            for piece in _LONE_CR.split(line + "\n"):
                if piece:
                    position = start + len(piece)
                    start += len(piece)
                    pieces.append(piece)
                    yield piece

    # strict: an unterminated quote is an error, not a field that swallows every later row.
    reader = csv.reader(physical(), strict=True)
    consumed = 0
    record_start = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            detail = "a quoted field that never ends" if "end of data" in str(exc) else f"unbalanced quotation marks: {exc}"
            raise InputError(f"{path}:{consumed + 1}: invalid CSV ({detail})") from None
        first, consumed = consumed, reader.line_num
        if row:
            yield first + 1, (record_start, position), row, "".join(pieces)
        pieces.clear()
        record_start = position


def read_table(path: str, lines: Iterable[tuple[int, int, str]], names: FieldNames) -> Iterator[Segment]:
    rows = iter(_table_rows(path, lines))
    header = next(rows, None)
    if header is None:
        raise InputError(f"{path}: empty table (expected a header row naming the columns)")
    columns = _header(path, header[2], names)
    encoding = TSV if path.lower().endswith(".tsv") else CSV
    for number, span, cells, raw in rows:
        where = f"{path}:{number}"
        if len(cells) != len(header[2]):
            raise InputError(f"{where}: {len(cells)} fields, but the header has {len(header[2])}")
        record = {name: cells[index] for name, index in columns.items()}
        values = _segment_fields(record, names, where, fallback_id=str(number))
        yield Segment(file=path, line=number, encoding=encoding, record=span, field=columns[names.text], raw=raw,
                      **values)


def read_aligned(hyp: str, src: str | None = None, refs: Sequence[str] = (), limit: int = DEFAULT_MAX_INPUT_BYTES) -> Corpus:
    """Line-aligned files as sacrebleu reads them, all in memory (see :func:`open_aligned`)."""
    corpus, segments = open_aligned(hyp, src, refs, limit)
    corpus.segments = list(segments)
    return corpus


def open_aligned(
    hyp: str, src: str | None = None, refs: Sequence[str] = (), limit: int = DEFAULT_MAX_INPUT_BYTES
) -> tuple[Corpus, Iterator[Segment]]:
    """Line-aligned files as sacrebleu reads them: one segment per line of ``hyp``, all files
    read in step, one line at a time, as a stream."""
    corpus = Corpus(segments=[], files=[hyp], ref_count=len(refs))
    others = [(path, role) for path, role in [(src, "source"), *((ref, "reference") for ref in refs)] if path]
    streams = [iter(_lines(path, corpus, limit)) for path in (hyp, *(path for path, _ in others))]

    def segments() -> Iterator[Segment]:
        matched = 0
        partial: tuple[Any, ...] = ()  # the lines read where one file ended before the others
        for rows in zip_longest(*streams):
            if None in rows:
                partial = rows
                break
            number, start, line = rows[0]
            # sacrebleu strips trailing whitespace from every line; the gate must score the same strings.
            text = line.rstrip()
            segment = Segment(
                id=str(number),
                text=text,
                file=hyp,
                line=number,
                src=rows[1][2].rstrip() if src else None,
                refs=tuple(row[2].rstrip() for row in rows[2 if src else 1 :]),
                encoding=LINE,
                record=(start, start + len(text)),
            )
            _check_segment_size(segment, limit)
            matched += 1
            yield segment
        # Where the files disagree, count each to its end for the message (sacrebleu's check, streamed).
        counts = [matched + (row is not None) + sum(1 for _ in stream) for row, stream in zip_longest(partial, streams)]
        if counts[0] == 0:
            raise InputError(f"{hyp}: the hypothesis file is empty")
        for (path, role), count in zip(others, counts[1:]):
            if count != counts[0]:
                raise InputError(
                    f"{path}: {role} file has {count} lines but {hyp} has {counts[0]} "
                    f"(the files disagree from line {min(count, counts[0]) + 1})"
                )

    return corpus, segments()


# --------------------------------------------------------------------------------- documents


@dataclass(slots=True)
class CorpusDocument:
    """Segments checked together, joined one paragraph per segment."""

    key: str
    segments: list[Segment]
    text: str
    starts: list[int]  # offset of each segment in ``text``

    def locate(self, start: int, end: int) -> tuple[int, int, int]:
        """(segment index, start, end) within that segment for a span of ``text``.

        A span that crosses into the next segment is attributed to the first and cut at its end.
        """
        index = max(bisect.bisect_right(self.starts, start) - 1, 0)
        length = len(self.segments[index].text)
        local_start = min(start - self.starts[index], length)
        local_end = min(max(end - self.starts[index], local_start), length)
        return index, local_start, local_end


def build_documents(segments: Sequence[Segment]) -> list[CorpusDocument]:
    """Group segments by (file, document id) in order of first appearance."""
    groups: dict[tuple[str, str], list[Segment]] = {}
    for position, segment in enumerate(segments):
        key = (segment.file, segment.doc) if segment.doc is not None else (segment.file, f"\x00{position}")
        groups.setdefault(key, []).append(segment)
    documents = []
    for (file, doc), members in groups.items():
        starts = []
        cursor = 0
        for segment in members:
            starts.append(cursor)
            cursor += len(segment.text) + len(SEGMENT_SEPARATOR)
        text = SEGMENT_SEPARATOR.join(s.text for s in members)
        name = f"{file}#{doc}" if not doc.startswith("\x00") else f"{file}:{members[0].line}"
        documents.append(CorpusDocument(name, members, text, starts))
    return documents
