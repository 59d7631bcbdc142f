"""What the fluency-model tests share: clean paragraphs and a scorer over the tiny random LM."""

CLEAN = [
    "The committee met on Tuesday to discuss the budget. Members agreed to review the plan next month.",
    "Rain fell across the region for most of the week. Farmers said the crops would recover.",
    "The museum will reopen in the spring after repairs. Visitors can book tickets online.",
    "Officials said the bridge was safe. Traffic resumed shortly after noon on the main road.",
] * 4


def tiny_scorer():
    from mtcheck.lm.scorer import Scorer
    from mtcheck.lm.testing import tiny_model

    return Scorer(tiny_model())
