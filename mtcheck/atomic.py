"""Write a file so that readers see the old file or the new one, never half of one.

Reports and the result cache write through a temporary file in the same folder, then
``os.replace``. A process killed with SIGKILL cannot remove its temporary file, so the first write
into a folder also removes this writer's temporary files there that are older than an hour (no
live write takes that long).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600


def new_file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (mkstemp's 0600 would hide a shared cache)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def remove_stale_temps(folder: Path, prefix: str, max_age_s: float = STALE_TEMP_SECONDS) -> int:
    """Delete ``prefix*.tmp`` files in ``folder`` older than ``max_age_s``; returns how many went."""
    removed = 0
    cutoff = time.time() - max_age_s
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass  # another process's file, or already gone
    return removed


def write_atomic(
    path: str | os.PathLike[str],
    data: str | bytes,
    encoding: str = "utf-8",
    *,
    durable: bool = True,
    sweep: bool = True,
) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then os.replace.

    ``durable`` fsyncs the file and the folder (reports; a cache entry can be lost without harm).
    ``sweep`` first removes stale temporary files of earlier writes to the same path.
    An existing file keeps its mode, a new one gets what a plain open() would give it.
    Characters the encoding cannot carry (lone surrogates from undecodable input) become '?'
    rather than failing after the check has run.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    payload = data if isinstance(data, bytes) else data.encode(encoding, errors="replace")
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = new_file_mode()
    if sweep:
        remove_stale_temps(folder, f".{target.name}.")
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    if durable:
        _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; not every platform lets a folder be opened, so best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
