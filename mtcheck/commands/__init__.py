"""Click commands that live outside ``mtcheck.cli``; ``cli`` registers them on ``main``.

Modules here import only click and the standard library at import time, so ``mtcheck --help``
stays fast and never loads torch.
"""
