"""Errors that reach the user as one line and exit code 2."""


class MtcheckError(Exception):
    """Base for every error the CLI reports without a traceback."""


class InputError(MtcheckError):
    """The input cannot be read as UTF-8 text."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line: its type, and the first line of its message (cut at ``limit``)."""
    reason = str(exc).splitlines()[0][:limit] if str(exc) else ""
    return f"{type(exc).__name__}{': ' + reason if reason else ''}"


def debugging() -> bool:
    """Whether the user asked for tracebacks (``--debug`` or ``MTCHECK_DEBUG=1``)."""
    import os

    return os.environ.get("MTCHECK_DEBUG", "") not in ("", "0")
