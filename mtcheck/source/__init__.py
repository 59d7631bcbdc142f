"""Source-aware checking: numbers, language identification, and the runner of the accuracy rules (A)."""
