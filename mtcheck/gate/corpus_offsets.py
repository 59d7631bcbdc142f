"""Offsets in a corpus segment mapped back to its corpus file, and fixes encoded for its record.

Every :class:`~mtcheck.gate.corpus.Segment` remembers where its record sits in the file's decoded text
and how the value is encoded there, so a finding inside a segment can be pointed at the file's
real line and column even when the text was JSON-escaped or CSV-quoted (:func:`raw_offsets`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from mtcheck.gate.corpus import CSV, FILE, JSONL, LINE, TSV, Segment

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


def segment_positions(segment: Segment, file_text: str) -> int | list[int]:
    """Where the segment's text is in the file: the raw index where it starts verbatim, or the raw
    index of each of its characters (plus its end) when it was escaped; [] when it cannot be found."""
    start, end = segment.record
    if segment.encoding in (FILE, LINE):
        return start
    found = record_positions(segment, file_text[start:end])
    return start + found if isinstance(found, int) else [start + p for p in found]


def record_positions(segment: Segment, record: str) -> int | list[int]:
    """:func:`segment_positions` within the segment's record text (offsets from the record's start)."""
    if segment.encoding in (FILE, LINE):
        return 0
    if segment.encoding == TSV:
        cells = record.split("\t")
        column = int(segment.field or 0)
        offset = sum(len(cell) + 1 for cell in cells[:column])
        return offset if column < len(cells) and cells[column] == segment.text else []
    try:
        if segment.encoding == JSONL:
            quote = _json_value_start(record, str(segment.field))
            if quote is None:
                return []
            closing = quote + 1 + len(segment.text)
            verbatim = "\\" not in segment.text and record[quote + 1 : closing] == segment.text
            if verbatim and record[closing : closing + 1] == '"':
                return quote + 1  # no escape inside: the common case, no per-character walk
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
    return positions


def raw_offsets(segment: Segment, file_text: str, offsets: Sequence[int]) -> list[int]:
    """Map offsets within ``segment.text`` to offsets in its file's text.

    When the value cannot be found in the record (it should always be), every offset maps to the
    start of the record, so the location still names the right line.
    """
    return mapped_offsets(segment, segment_positions(segment, file_text), offsets)


def mapped_offsets(segment: Segment, positions: int | list[int], offsets: Sequence[int]) -> list[int]:
    """:func:`raw_offsets` with the segment's :func:`segment_positions` already found."""
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
