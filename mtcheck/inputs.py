"""Reading user input as text, with one-line errors for everything that is not UTF-8 text.

Nothing here writes: the user's files are only read.
"""

from __future__ import annotations

import codecs
import sys
from pathlib import Path

from mtcheck.errors import InputError

BINARY_SNIFF_BYTES = 8192


def decode(data: bytes, name: str) -> str:
    """UTF-8 text from bytes; a leading BOM is dropped, CRLF is kept as it is."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        raise InputError(f"{name}: is UTF-16 encoded; convert it to UTF-8 first")
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise InputError(f"{name}: looks like a binary file (contains NUL bytes); expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}, line {line})"
        ) from None


def read_source(source: str) -> str:
    """The text of a file path, or of standard input for '-'."""
    if source == "-":
        return decode(sys.stdin.buffer.read(), "<stdin>")
    path = Path(source)
    if not path.exists():
        raise InputError(f"{source}: no such file")
    if path.is_dir():
        raise InputError(f"{source}: is a directory (give files, or use `mtcheck gate {source}` for a corpus)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from None
    return decode(data, source)
