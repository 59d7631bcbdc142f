"""Reading a translated corpus for ``mtcheck gate``.

Four layouts, all turned into :class:`Segment` objects:

- a folder (recursive ``*.txt``/``*.md``), a glob, or single text files: each file is one document;
- JSONL, one segment per line, with configurable field names;
- TSV/CSV with a header row naming the columns (TSV is split on tabs with no quoting, as WMT and
  sacrebleu files are; CSV follows the ``csv`` module's default dialect);
- sacrebleu-style line-aligned files: ``--hyp out.en [--src in.zh] [--ref ref.en ...]``.

Every segment remembers where its record sits in the file's text and how the value is encoded
there, so a finding inside a segment can be pointed at the file's real line and column even when
the text was JSON-escaped or CSV-quoted (:func:`raw_offsets`).

Segments that share a document id are checked together: :func:`build_documents` joins them with a
blank line (one paragraph per segment) and keeps the offset of each segment in the joined text.
"""

from __future__ import annotations

import bisect
import csv
import glob
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtcheck.errors import InputError
from mtcheck.inputs import DEFAULT_MAX_INPUT_BYTES, read_source

SEGMENT_SEPARATOR = "\n\n"
TEXT_SUFFIXES = (".txt", ".md")
TABLE_SUFFIXES = (".jsonl", ".tsv", ".csv")
GLOB_CHARS = re.compile(r"[*?\[]")

# How a segment's text is stored in its record (decides how offsets map back to the file).
FILE, LINE, JSONL, TSV, CSV = "file", "line", "jsonl", "tsv", "csv"


@dataclass(frozen=True)
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


@dataclass
class Corpus:
    segments: list[Segment]
    files: dict[str, str] = field(default_factory=dict)  # file name -> decoded text
    ref_count: int = 0  # references per segment (0: no reference metrics)

    @property
    def has_refs(self) -> bool:
        return self.ref_count > 0


@dataclass(frozen=True)
class FieldNames:
    """Which JSONL keys / table columns hold what."""

    text: str = "text"
    id: str | None = None  # None: "id" when present, else the line number
    doc: str | None = None
    src: str | None = None
    refs: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------ reading


# A corpus file of records (JSONL, TSV, CSV) is read whole; the input limit applies to each
# segment in it. This bounds what one file may hold in memory (see issue 20: streaming).
RECORD_FILE_LIMIT = 8 * 1024**3


def read_file_text(path: str, limit: int = DEFAULT_MAX_INPUT_BYTES) -> str:
    """A corpus file's text; the same checks and one-line errors as ``mtcheck check``."""
    return read_source(path, limit)


def _check_segment_sizes(segments: Sequence[Segment], limit: int) -> None:
    for segment in segments:
        if len(segment.text) > limit or len(segment.text.encode("utf-8")) > limit:
            raise InputError(
                f"{segment.file}:{segment.line}: a segment larger than the input limit of {limit:,} bytes; "
                "raise it with --max-input-size"
            )


def split_lines(text: str) -> list[tuple[int, str]]:
    """(start offset, line without its newline) for each line, split on '\\n' only, as sacrebleu reads.

    A final newline does not start another line; a '\\r' before '\\n' is left to the caller.
    """
    lines = []
    start = 0
    length = len(text)
    while start < length:
        end = text.find("\n", start)
        if end < 0:
            end = length
        lines.append((start, text[start:end]))
        start = end + 1
    return lines


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
    """Segments from folders, globs, text files, JSONL, TSV and CSV files."""
    corpus = Corpus(segments=[], ref_count=len(names.refs))
    for path in expand_inputs(inputs):
        suffix = Path(path).suffix.lower()
        text = read_file_text(path, max(limit, RECORD_FILE_LIMIT) if suffix in TABLE_SUFFIXES else limit)
        corpus.files[path] = text
        if suffix == ".jsonl":
            corpus.segments.extend(read_jsonl(path, text, names))
        elif suffix in (".tsv", ".csv"):
            corpus.segments.extend(read_table(path, text, names))
        else:
            if names.refs:
                raise InputError(f"{path}: a text file has no reference field; give references in JSONL/TSV/CSV or with --hyp/--ref")
            corpus.segments.append(Segment(id=path, text=text, file=path, line=1, encoding=FILE, record=(0, len(text))))
    if not corpus.segments:
        raise InputError(f"{', '.join(inputs)}: the corpus has no segments")
    _check_segment_sizes(corpus.segments, limit)
    return corpus


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


def read_jsonl(path: str, text: str, names: FieldNames) -> list[Segment]:
    segments = []
    for number, (start, line) in enumerate(split_lines(text), 1):
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
        segments.append(
            Segment(file=path, line=number, encoding=JSONL, record=(start, start + len(line)), field=names.text, **values)
        )
    return segments


def _header(path: str, cells: list[str], names: FieldNames) -> dict[str, int]:
    columns = {cell.strip(): i for i, cell in reversed(list(enumerate(cells)))}  # first of duplicate names wins
    wanted = [("text", names.text), ("id", names.id), ("document", names.doc), ("source", names.src)]
    wanted += [("reference", ref) for ref in names.refs]
    for role, name in wanted:
        if name is not None and name not in columns:
            listed = ", ".join(c.strip() for c in cells)
            raise InputError(f"{path}:1: no {role} column '{name}' (columns: {listed})")
    return columns


def _table_rows(path: str, text: str) -> Iterable[tuple[int, tuple[int, int], list[str]]]:
    """(line number, record span, cells) for each row, header first."""
    if path.lower().endswith(".tsv"):
        # TSV is split on tabs with no quoting, like WMT/sacrebleu TSV files: quotes are text.
        for number, (start, line) in enumerate(split_lines(text), 1):
            content = line[:-1] if line.endswith("\r") else line
            if content.strip():
                yield number, (start, start + len(content)), content.split("\t")
        return
    # The csv module counts lines as StringIO(newline="") splits them ('\r', '\n' or '\r\n').
    line_starts = [0]
    for physical in io.StringIO(text, newline=""):
        line_starts.append(line_starts[-1] + len(physical))
    # strict: an unterminated quote is an error, not a field that swallows every later row.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    consumed = 0
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
            start = line_starts[min(first, len(line_starts) - 1)]
            end = line_starts[min(consumed, len(line_starts) - 1)]
            yield first + 1, (start, end), row


def read_table(path: str, text: str, names: FieldNames) -> list[Segment]:
    rows = iter(_table_rows(path, text))
    header = next(rows, None)
    if header is None:
        raise InputError(f"{path}: empty table (expected a header row naming the columns)")
    columns = _header(path, header[2], names)
    encoding = TSV if path.lower().endswith(".tsv") else CSV
    segments = []
    for number, span, cells in rows:
        where = f"{path}:{number}"
        if len(cells) != len(header[2]):
            raise InputError(f"{where}: {len(cells)} fields, but the header has {len(header[2])}")
        record = {name: cells[index] for name, index in columns.items()}
        values = _segment_fields(record, names, where, fallback_id=str(number))
        segments.append(Segment(file=path, line=number, encoding=encoding, record=span, field=columns[names.text], **values))
    return segments


def _aligned_lines(path: str, text: str) -> list[tuple[int, str]]:
    # sacrebleu strips trailing whitespace from every line; the gate must score the same strings.
    return [(start, line.rstrip()) for start, line in split_lines(text)]


def read_aligned(hyp: str, src: str | None = None, refs: Sequence[str] = (), limit: int = DEFAULT_MAX_INPUT_BYTES) -> Corpus:
    """Line-aligned files as sacrebleu reads them: one segment per line of ``hyp``."""
    hyp_text = read_file_text(hyp, max(limit, RECORD_FILE_LIMIT))
    hyp_lines = _aligned_lines(hyp, hyp_text)
    if not hyp_lines:
        raise InputError(f"{hyp}: the hypothesis file is empty")

    def aligned(path: str, role: str) -> list[str]:
        lines = [line for _, line in _aligned_lines(path, read_file_text(path, max(limit, RECORD_FILE_LIMIT)))]
        if len(lines) != len(hyp_lines):
            first_missing = min(len(lines), len(hyp_lines)) + 1
            raise InputError(
                f"{path}: {role} file has {len(lines)} lines but {hyp} has {len(hyp_lines)} "
                f"(the files disagree from line {first_missing})"
            )
        return lines

    src_lines = aligned(src, "source") if src else None
    ref_lines = [aligned(ref, "reference") for ref in refs]
    segments = [
        Segment(
            id=str(number),
            text=line,
            file=hyp,
            line=number,
            src=src_lines[number - 1] if src_lines else None,
            refs=tuple(r[number - 1] for r in ref_lines),
            encoding=LINE,
            record=(start, start + len(line)),
        )
        for number, (start, line) in enumerate(hyp_lines, 1)
    ]
    _check_segment_sizes(segments, limit)
    return Corpus(segments=segments, files={hyp: hyp_text}, ref_count=len(refs))


# --------------------------------------------------------------------------------- documents


@dataclass
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


# ------------------------------------------------------------------------- back to the file

_JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _json_value_start(line: str, key: str) -> int | None:
    """Index of the opening quote of the top-level ``key``'s string value (the last one, as json.loads keeps)."""
    from json.decoder import scanstring

    found = None
    i = _WHITESPACE.match(line, 0).end()
    if line[i : i + 1] != "{":
        return None
    i += 1
    while True:
        i = _WHITESPACE.match(line, i).end()
        if line[i : i + 1] != '"':
            return found
        name, i = scanstring(line, i + 1)
        i = _WHITESPACE.match(line, i).end()
        if line[i : i + 1] != ":":
            return found
        i = _WHITESPACE.match(line, i + 1).end()
        if name == key:
            found = i if line[i : i + 1] == '"' else None
        _, i = _DECODER.raw_decode(line, i)
        i = _WHITESPACE.match(line, i).end()
        if line[i : i + 1] != ",":
            return found
        i += 1


def _json_string_positions(line: str, quote: int) -> tuple[str, list[int]]:
    """The decoded string starting at ``quote`` and the raw index of each of its characters (plus the end)."""
    chars: list[str] = []
    positions: list[int] = []
    i = quote + 1
    while line[i] != '"':
        positions.append(i)
        if line[i] != "\\":
            chars.append(line[i])
            i += 1
            continue
        escape = line[i + 1]
        if escape != "u":
            chars.append(_JSON_ESCAPES[escape])
            i += 2
            continue
        code = int(line[i + 2 : i + 6], 16)
        i += 6
        # json joins a high and a low surrogate escape into one character, and so must we.
        if 0xD800 <= code <= 0xDBFF and line[i : i + 2] == "\\u":
            low = int(line[i + 2 : i + 6], 16)
            if 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                i += 6
        chars.append(chr(code))
    positions.append(i)
    return "".join(chars), positions


def _csv_field_positions(record: str, column: int) -> tuple[str, list[int]] | None:
    """Decoded value and raw positions of field ``column`` in one CSV record (excel dialect)."""
    i = 0
    length = len(record)
    for index in range(column + 1):
        chars: list[str] = []
        positions: list[int] = []
        if i < length and record[i] == '"':
            i += 1
            while i < length:
                if record[i] == '"':
                    if record[i + 1 : i + 2] == '"':
                        positions.append(i)
                        chars.append('"')
                        i += 2
                        continue
                    break
                positions.append(i)
                chars.append(record[i])
                i += 1
            positions.append(i)
            i += 1  # the closing quote
            while i < length and record[i] not in ",\r\n":
                chars.append(record[i])  # text after a closing quote: csv keeps it
                positions.insert(-1, i)
                positions[-1] = i + 1
                i += 1
        else:
            while i < length and record[i] not in ",\r\n":
                positions.append(i)
                chars.append(record[i])
                i += 1
            positions.append(i)
        if index == column:
            return "".join(chars), positions
        if i >= length or record[i] != ",":
            return None
        i += 1
    return None


def _positions(segment: Segment, file_text: str) -> int | list[int]:
    """Where the segment's text is in the file: the raw index where it starts verbatim, or the raw
    index of each of its characters (plus its end) when it was escaped; [] when it cannot be found."""
    start, end = segment.record
    if segment.encoding in (FILE, LINE):
        return start
    record = file_text[start:end]
    if segment.encoding == TSV:
        cells = record.split("\t")
        column = int(segment.field or 0)
        offset = start + sum(len(cell) + 1 for cell in cells[:column])
        return offset if column < len(cells) and cells[column] == segment.text else []
    try:
        if segment.encoding == JSONL:
            quote = _json_value_start(record, str(segment.field))
            if quote is None:
                return []
            closing = quote + 1 + len(segment.text)
            verbatim = "\\" not in segment.text and record[quote + 1 : closing] == segment.text
            if verbatim and record[closing : closing + 1] == '"':
                return start + quote + 1  # no escape inside: the common case, no per-character walk
            value, positions = _json_string_positions(record, quote)
        else:
            found = _csv_field_positions(record, int(segment.field or 0))
            if found is None:
                return []
            value, positions = found
    except (ValueError, IndexError, KeyError):
        return []
    if value != segment.text:
        return []
    return [start + p for p in positions]


def raw_offsets(segment: Segment, file_text: str, offsets: Sequence[int]) -> list[int]:
    """Map offsets within ``segment.text`` to offsets in its file's text.

    When the value cannot be found in the record (it should always be), every offset maps to the
    start of the record, so the location still names the right line.
    """
    positions = _positions(segment, file_text)
    if isinstance(positions, int):
        return [positions + o for o in offsets]
    if not positions:
        return [segment.record[0] for _ in offsets]
    return [positions[min(o, len(positions) - 1)] for o in offsets]


# Characters that would break the record if a suggested replacement carried them unescaped.
_UNSAFE = {LINE: "\r\n", TSV: "\t\r\n", CSV: '",\r\n'}


def encode_replacement(segment: Segment, replacement: str | None) -> str | None:
    """A suggested replacement as it must be written inside the segment's record, or None if unsafe.

    Offsets into a JSONL file cover the escaped text, so a fix must be escaped the same way; a fix
    that would split a line or a table cell is dropped rather than offered.
    """
    if replacement is None or segment.encoding == FILE:
        return replacement
    if segment.encoding == JSONL:
        return json.dumps(replacement, ensure_ascii=False)[1:-1]
    if any(char in replacement for char in _UNSAFE[segment.encoding]):
        return None
    return replacement
