"""Reading user input as text, with one-line errors for everything that is not UTF-8 text.

Nothing here writes: the user's files are only read.
"""

from __future__ import annotations

import codecs
import errno
import stat
import sys
from pathlib import Path

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
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        raise InputError(f"{name}: is UTF-16 encoded; convert it to UTF-8 first")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise InputError(f"{name}: looks like a binary file (a NUL byte at offset {nul}, line {line}); expected UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}, line {line})"
        ) from None


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
    path = Path(source)
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"{source}: {_why(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{source}: is a directory (give files, or use `mtcheck gate {source}` for a corpus)")
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        raise InputError(
            f"{source}: {info.st_size:,} bytes, over the input limit of {limit:,}; raise it with --max-input-size "
            "(or `max-input-size` in the config)"
        )
    try:
        if stat.S_ISFIFO(info.st_mode):
            return decode(_read_fifo(path, source, limit), source)
        with path.open("rb") as handle:
            return decode(read_bounded(handle, source, limit), source)
    except OSError as exc:
        raise InputError(f"{source}: cannot read: {_why(exc)}") from None


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
    import os
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
