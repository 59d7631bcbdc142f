"""The command line: ``main`` (check, rules, calibrate, train and the entry point), ``gate``,
``serve`` and ``common`` (options and errors they share).

Modules here import only click and the standard library at import time, so ``mtcheck --help``
stays fast and never loads torch.
"""
