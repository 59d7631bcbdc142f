"""Fluency rules: what the learned detector (mtcheck.fluency) reports.

The rules are declared here, like every other family, so that ``mtcheck rules``, selection and
severity overrides treat them alike; the findings themselves come from
mtcheck.fluency.detector.Detector, which needs the language model.
"""

from __future__ import annotations

from mtcheck.findings import Severity
from mtcheck.rules.base import Rule, register


@register
class DisfluentSpan(Rule):
    """Catches words the learned detector finds garbled, as one span per run of neighbouring words.

    Bad: ``Of the meeting the in happened was what it not clear to reporters yet.``
    Good: ``It is not yet clear to reporters what happened at the meeting.``
    """

    code = "F001"
    slug = "disfluent-span"
    severity = Severity.WARNING
    summary = "Words the learned detector finds garbled (warning when it is confident)."
    uses_lm = True


@register
class DisfluentSentence(Rule):
    """Catches a sentence garbled throughout, where no single span stands out.

    Bad: ``Farmers hope rain the arrive will before harvest of the.``
    Good: ``Farmers hope the rain will arrive before the harvest.``
    """

    code = "F002"
    slug = "disfluent-sentence"
    severity = Severity.WARNING
    summary = "A sentence whose fluency is below what clean text reaches (awkward: info; garbled: warning)."
    uses_lm = True
