"""Errors that reach the user as one line and exit code 2."""


class MtcheckError(Exception):
    """Base for every error the CLI reports without a traceback."""


class InputError(MtcheckError):
    """The input cannot be read as UTF-8 text."""


def debugging() -> bool:
    """Whether the user asked for tracebacks (``--debug`` or ``MTCHECK_DEBUG=1``)."""
    import os

    return os.environ.get("MTCHECK_DEBUG", "") not in ("", "0")
