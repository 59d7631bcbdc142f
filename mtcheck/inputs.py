"""Reading user input as text, with one-line errors for everything that is not UTF-8 text.

Nothing here writes: the user's files are only read.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from mtcheck.errors import InputError

DEFAULT_MAX_INPUT_BYTES = 64 * 1024 * 1024
READ_CHUNK = 1 << 20
FIFO_WAIT_S = 30.0  # a named pipe with no writer: how long to wait for one


def parse_size(value: str | int) -> int:
    """Bytes from ``64MB``, ``1.5GiB``, ``500k`` or a plain number (MB = 10^6, MiB = 2^20)."""
    import re

    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", str(value), re.IGNORECASE)
        if not match:
            raise ValueError(f"not a size: {value!r} (examples: 64MB, 1GiB, 500k)")
        number, unit, binary = match.groups()
        base = 1024 if binary else 1000
        size = int(float(number) * base ** ("kmgt".index(unit.lower()) + 1)) if unit else int(float(number))
    if size <= 0:
        raise ValueError(f"a size must be positive, not {value!r}")
    return size


def decode(data: bytes, name: str) -> str:
    """UTF-8 text from bytes; a leading BOM is dropped, CRLF is kept as it is."""
    _refuse_utf16(data, name)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _binary(name, nul, data.count(b"\n", 0, nul) + 1)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, data[exc.start], exc.start, data.count(b"\n", 0, exc.start) + 1) from None


def _refuse_utf16(data: bytes, name: str) -> None:
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        raise InputError(f"{name}: is UTF-16 encoded; convert it to UTF-8 first")


def _binary(name: str, offset: int, line: int) -> InputError:
    return InputError(f"{name}: looks like a binary file (a NUL byte at offset {offset}, line {line}); expected UTF-8 text")


def _not_utf8(name: str, byte: int, offset: int, line: int) -> InputError:
    return InputError(f"{name}: not valid UTF-8 (byte 0x{byte:02x} at offset {offset}, line {line})")


def read_bounded(handle, name: str, limit: int) -> bytes:
    """At most ``limit`` bytes from a binary stream, or InputError as soon as there are more (so
    /dev/zero or an endless pipe costs at most ``limit`` bytes of memory). A NUL byte stops the
    read at once."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = handle.read(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        if b"\x00" in chunk:
            decode(b"".join(chunks) + chunk, name)  # raises with the offset and line of the NUL
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise InputError(
                f"{name}: larger than the input limit of {limit:,} bytes; raise it with --max-input-size "
                "(or `max-input-size` in the config)"
            )


def read_source(source: str, limit: int = DEFAULT_MAX_INPUT_BYTES) -> str:
    """The text of a file path, a named pipe or a device, or of standard input for '-'."""
    if source == "-":
        return decode(read_bounded(sys.stdin.buffer, "<stdin>", limit), "<stdin>")
    info = _stat(source)
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        raise InputError(
            f"{source}: {info.st_size:,} bytes, over the input limit of {limit:,}; raise it with --max-input-size "
            "(or `max-input-size` in the config)"
        )
    try:
        if stat.S_ISFIFO(info.st_mode):
            return decode(_read_fifo(Path(source), source, limit), source)
        with open(source, "rb") as handle:
            return decode(read_bounded(handle, source, limit), source)
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {_why(exc)}") from None


def _stat(source: str) -> os.stat_result:
    try:
        info = os.stat(source)
    except OSError as exc:
        raise InputError(f"{source}: {_why(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{source}: is a directory (give files, or use `mtcheck gate {source}` for a corpus)")
    return info


class FileStamp:
    """A file's size and modification time when it was opened, to tell later whether it changed
    (None for a pipe or device: it cannot be read again anyway)."""

    def __init__(self, source: str) -> None:
        self.source = source
        info = _stat(source)
        self.identity = (info.st_size, info.st_mtime_ns) if stat.S_ISREG(info.st_mode) else None

    def unchanged(self) -> bool:
        """Whether the file still has the size and modification time it had when opened."""
        if self.identity is None:
            return True
        try:
            info = os.stat(self.source)
        except OSError:
            return False
        return (info.st_size, info.st_mtime_ns) == self.identity


class LineReader(FileStamp):
    """The lines of a file read one at a time, never the whole file: (line number, offset of the
    line in the decoded text, the line without its '\\n').

    Each line is checked as ``read_source`` checks a whole file (UTF-8, no NUL byte, a BOM
    dropped), with the same one-line errors naming the byte offset and line, and no line may
    exceed ``line_limit`` bytes. A named pipe or device cannot be read twice, so its text is read
    whole (within ``whole_limit``) and kept in :attr:`retained`.
    """

    def __init__(self, source: str, line_limit: int, whole_limit: int) -> None:
        super().__init__(source)
        self.line_limit = line_limit
        self.retained = None if self.identity is not None else read_source(source, whole_limit)

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        if self.retained is not None:
            yield from _text_lines(self.retained)
            return
        try:
            with open(self.source, "rb") as handle:
                yield from self._decoded(handle)
        except OSError as exc:
            raise InputError(f"{self.source}: cannot read: {_why(exc)}") from None

    def _decoded(self, handle: BinaryIO) -> Iterator[tuple[int, int, str]]:
        line_start = char_offset = 0  # of the current line: in the file's bytes, in its decoded text
        number = 0
        while True:
            raw = handle.readline(self.line_limit + 2)
            if not raw:
                return
            number += 1
            body = raw[:-1] if raw.endswith(b"\n") else raw
            byte_offset, line_start = line_start, line_start + len(raw)
            if len(body) > self.line_limit:
                raise InputError(
                    f"{self.source}:{number}: a line longer than the input limit of {self.line_limit:,} bytes; "
                    "raise it with --max-input-size"
                )
            if number == 1:
                _refuse_utf16(body, self.source)
                if body.startswith(codecs.BOM_UTF8):
                    body, byte_offset = body[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)  # offsets still count it
                    if not body and not raw.endswith(b"\n"):
                        return  # a BOM alone is an empty file
            nul = body.find(b"\x00")
            if nul >= 0:
                raise _binary(self.source, byte_offset + nul, number)
            try:
                line = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(self.source, body[exc.start], byte_offset + exc.start, number) from None
            yield number, char_offset, line
            char_offset += len(line) + 1

def _text_lines(text: str) -> Iterator[tuple[int, int, str]]:
    start = 0
    number = 0
    length = len(text)
    while start < length:
        end = text.find("\n", start)
        if end < 0:
            end = length
        number += 1
        yield number, start, text[start:end]
        start = end + 1


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.ELOOP:
        return "a loop of symbolic links"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)


def _read_fifo(path: Path, source: str, limit: int) -> bytes:
    """A named pipe: opened without blocking, so one with no writer is an error after FIFO_WAIT_S
    instead of a hang."""
    import select

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(FIFO_WAIT_S * 1000):
            raise InputError(f"{source}: a named pipe that nothing wrote to in {FIFO_WAIT_S:.0f} s")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return read_bounded(handle, source, limit)
    finally:
        os.close(fd)
