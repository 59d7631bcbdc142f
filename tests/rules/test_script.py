"""Script and encoding rules (S family): foreign script, mojibake, leftover placeholders."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtcheck.document import Document
from mtcheck.findings import Finding, Severity
from mtcheck.rules import script
from mtcheck.rules.base import RuleContext, all_rules
from mtcheck.rules.script import english_frequencies, repair_mojibake


def run(text: str, code: str) -> list[Finding]:
    doc = Document.parse(text)
    findings = list(all_rules()[code]().check(doc, RuleContext()))
    for f in findings:
        assert 0 <= f.start < f.end <= len(text)
    return findings


def spans(text: str, code: str) -> list[str]:
    return [text[f.start : f.end] for f in run(text, code)]


@pytest.mark.parametrize("code", ["S001", "S002", "S003", "S004"])
def test_every_script_rule_is_registered_with_docs(code: str) -> None:
    cls = all_rules()[code]
    assert cls.slug and cls.summary and isinstance(cls.severity, Severity)
    assert "Bad:" in cls.description() and "Good:" in cls.description()


# --- S001 untranslated residue --------------------------------------------------------------


def test_chinese_run_is_flagged_with_its_script() -> None:
    text = "The delegation flew to 上海 for the summit."
    [finding] = run(text, "S001")
    assert text[finding.start : finding.end] == "上海"
    assert "Chinese" in finding.message and finding.severity is Severity.ERROR


def test_run_spans_spaces_between_foreign_words() -> None:
    text = "The envoy, 外交部 发言人, declined to comment."
    assert spans(text, "S001") == ["外交部 发言人"]


@pytest.mark.parametrize(
    ("word", "script"),
    [("Шойгу", "Cyrillic"), ("ありがとう", "Japanese"), ("서울", "Korean"), ("مرحبا", "Arabic"), ("שלום", "Hebrew")],
)
def test_foreign_scripts_are_named(word: str, script: str) -> None:
    text = f"The official, {word}, spoke first."
    [finding] = run(text, "S001")
    assert text[finding.start : finding.end] == word and script in finding.message


def test_symbols_and_single_greek_letters_are_not_residue() -> None:
    text = "Fuel cost €3 at 25°C, a 3×4 grid, π and Δ values, and № 5 – all fine™."
    assert run(text, "S001") == []


def test_greek_word_is_residue() -> None:
    assert spans("The label read καλημέρα in bold.", "S001") == ["καλημέρα"]


def test_cjk_punctuation_suggests_ascii() -> None:
    text = "Beijing，Shanghai and Shenzhen。"
    found = run(text, "S001")
    assert [(text[f.start : f.end], f.suggestion) for f in found] == [("，", ","), ("。", ".")]


def test_accented_latin_names_are_not_residue() -> None:
    assert run("Erdoğan met Dvořák fans in Łódź and São Paulo.", "S001") == []


# --- S002 mojibake --------------------------------------------------------------------------


def test_utf8_read_as_cp1252_is_repaired() -> None:
    text = "The cafÃ© owner said â€œthanksâ€\x9d and itâ€™s fine."
    found = run(text, "S002")
    assert [(text[f.start : f.end], f.suggestion) for f in found] == [
        ("Ã©", "é"),
        ("â€œ", "“"),
        ("â€\x9d", "”"),
        ("â€™", "’"),
    ]
    assert all(f.severity is Severity.ERROR for f in found)


def test_twice_garbled_text_is_repaired_fully() -> None:
    text = "Itâ€™s done: the Ã¢â‚¬â„¢ mark."
    found = run(text, "S002")
    assert [f.suggestion for f in found] == ["’", "’"]
    assert repair_mojibake("naÃ¯ve Ã¢â‚¬â„¢") == "naïve ’"


def test_chinese_mojibake_is_repaired() -> None:
    text = "Exports from ä¸­å›½ grew."
    [finding] = run(text, "S002")
    assert text[finding.start : finding.end] == "ä¸­å›½" and finding.suggestion == "中国"


def test_dropped_byte_quote_is_flagged() -> None:
    text = "He said â€œnoâ€ twice."
    found = run(text, "S002")
    assert [(text[f.start : f.end], f.suggestion) for f in found] == [("â€œ", "“"), ("â€", "”")]


def test_byte_level_bpe_output_is_repaired() -> None:
    text = "âĢľWe agreeâĢĿ, said theĠminister."
    found = run(text, "S002")
    assert [(text[f.start : f.end], f.suggestion) for f in found] == [("âĢľ", "“"), ("âĢĿ", "”"), ("Ġ", " ")]


def test_replacement_character_is_flagged() -> None:
    assert spans("The price was \ufffd\ufffd50.", "S002") == ["\ufffd\ufffd"]


def test_legitimate_accents_are_not_mojibake() -> None:
    text = "Señor Müller ordered crème brûlée at the CAFÉ” bar; Kılıçdaroğlu and Ġużeppi agreed."
    assert run(text, "S002") == []


# --- S003 leftover placeholders ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "suggestion"),
    [
        ("Dear {name}, welcome.", "{name}", None),
        ("Item {0} is ready.", "{0}", None),
        ("You owe %d dollars.", "%d", None),
        ("Signed by %s today.", "%s", None),
        ("A <b>bold</b> move.", "<b>", ""),
        ("First line<br/>second line.", "<br/>", ""),
        ("Smith &amp; Sons hired.", "&amp;", "&"),
        ("He said &quot;yes", "&quot;", '"'),
        ("Then [NAME] arrived.", "[NAME]", None),
        ("See note [[3]] below.", "[[3]]", None),
        ("The __PLACEHOLDER__ stays.", "__PLACEHOLDER__", None),
        ("The presi@@ dent spoke.", "@@", ""),
        ("A long @-@ term plan.", "@-@", "-"),
        ("The end.</s>", "</s>", ""),
        ("An <unk> word.", "<unk>", ""),
        ("the\u2581minister", "\u2581", " "),
    ],
)
def test_placeholders_are_flagged(text: str, span: str, suggestion: str | None) -> None:
    found = run(text, "S003")
    assert [(text[f.start : f.end], f.suggestion) for f in found][:1] == [(span, suggestion)]
    assert found[0].severity is Severity.WARNING


def test_every_tag_of_a_pair_is_flagged() -> None:
    assert spans("A <i>quiet</i> day.", "S003") == ["<i>", "</i>"]


def test_ordinary_text_is_not_a_placeholder() -> None:
    text = (
        "Rates rose 5% said [sic] analysts at AT&T, R&D, M&Ms; and Q&A; teams [in the US] wrote "
        "to info@example.com about 3 < 4 > 2 and {} braces."
    )
    assert run(text, "S003") == []


# --- S004 non-word ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "word", "suggestion"),
    [
        ("The polititian spoke to reporters on Monday.", "polititian", "politician"),
        ("The presidnet will travel to Paris.", "presidnet", "president"),
        ("Growth in the econmy slowed again.", "econmy", "economy"),
        ("Voters went to the polls in a snap elektion.", "elektion", "election"),
    ],
)
def test_non_word_one_edit_from_a_common_word_is_flagged(text: str, word: str, suggestion: str) -> None:
    [finding] = run(text, "S004")
    assert text[finding.start : finding.end] == word
    assert finding.suggestion == suggestion and finding.severity is Severity.WARNING
    assert f"'{suggestion}'" in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "Rescuers were buoying the stranded boat.",  # rare but real: wordfreq knows it
        "Officials said Zelenskiy and Tsikhanouskaya met.",  # capitalised: names are not checked
        "He typed pls and thx in every message.",  # shorter than five letters
        "The ministers disagreeance was plain.",  # unknown, but no common word one edit away
        "Read more at www.econmy.com or mail desk@econmy.org today.",  # a URL and an address
        "Follow @presidnet and #elektion for updates.",  # a handle and a hashtag
        "The polititian_id column is empty.",  # an identifier
        "Clerks often misfile the forms.",  # a prefix before a common word: 'mis' + 'file'
        "Firms want to reshore their plants.",  # 're' + 'shore'
        "Both stomas healed within a month.",  # the plural of a rare word wordfreq lists once: 'stoma'
    ],
)
def test_real_rare_words_names_and_addresses_are_left_alone(text: str) -> None:
    assert run(text, "S004") == []


def test_allowlisted_non_word_is_left_alone() -> None:
    doc = Document.parse("Our econmy plan is a product name.")
    rule = all_rules()["S004"]()
    assert list(rule.check(doc, RuleContext(frozenset({"econmy"})))) == []
    assert len(list(rule.check(doc, RuleContext()))) == 1


# --- scanning shortcuts give what a plain scan gives ----------------------------------------------

GARBLE_ALPHABET = "aé ÃÂâ€™œ©¢ĢĠľĿ\n%_@-,.sd1$(x)" + "".join(script.CP1252_BYTE)[120:160]
# The placeholder patterns as first written, each opening with a lookbehind: re tried them at
# every position. The shipped ones open with a literal and check the same context after it.
PLAIN_PLACEHOLDERS = {
    "printf placeholder": r"(?<![\w%])%(?:\d+\$)?[-+0#]*\d*(?:\.\d+)?[sdifuxX](?![A-Za-z])|%\([A-Za-z_]\w*\)[sd]",
    "placeholder": r"(?<!\w)__[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*__(?!\w)",
    "BPE join marker": r"(?<=\w)@@(?=\s|$)|(?<=\s)@[-,.]@(?=\s)",
}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=GARBLE_ALPHABET, max_size=60))
def test_lead_character_scan_finds_what_finditer_finds(text: str) -> None:
    for pattern, lead in ((script.LATIN1_UTF8, script.LATIN1_LEAD), (script.BPE_UTF8, script.BPE_LEAD)):
        assert [m.span() for m in script._matches_from(pattern, lead, text)] == [m.span() for m in pattern.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab_ %@-,.sd1$()x\n9", max_size=40))
def test_literal_first_placeholder_patterns_match_the_plain_ones(text: str) -> None:
    shipped = dict(script.PLACEHOLDERS)
    for kind, plain in PLAIN_PLACEHOLDERS.items():
        want = [m.span() for m in re.finditer(plain, text)]
        got = [m.span() for m in shipped[kind].finditer(text)]
        assert got == want, kind


def test_s004_shares_the_word_list_zipf_frequency_loads() -> None:
    # Loading wordfreq's English list twice cost every run's first check 0.07 s.
    from wordfreq import get_frequency_dict, zipf_frequency

    zipf_frequency("harbour", "en")
    assert english_frequencies() is get_frequency_dict("en", "best")


def test_s004_reports_every_occurrence_of_a_non_word_but_those_in_a_url() -> None:
    text = "The presidnet spoke. See example.com/presidnet and the presidnet again."
    found = run(text, "S004")
    assert [text[f.start : f.end] for f in found] == ["presidnet", "presidnet"]
    assert [f.start for f in found] == [text.index("presidnet"), text.rindex("presidnet")]
