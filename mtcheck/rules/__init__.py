"""Rule families. Each module registers its rules on import."""

from __future__ import annotations

import importlib

RULE_MODULES = ("quotes", "repetition", "punctuation", "fragments", "casing", "script", "fluency", "accuracy")


def load_builtin_rules() -> None:
    for name in RULE_MODULES:
        importlib.import_module(f"mtcheck.rules.{name}")
