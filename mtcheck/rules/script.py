"""Script and encoding rules: untranslated foreign script, mojibake, leftover placeholders."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from mtcheck.document import WORD_TEXT, Document
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, register

# Unicode character-name prefixes of the scripts an English text should not contain,
# mapped to the name a reader knows them by.
SCRIPT_PREFIXES = (
    ("CJK UNIFIED IDEOGRAPH", "Chinese"),
    ("CJK COMPATIBILITY IDEOGRAPH", "Chinese"),
    ("HIRAGANA", "Japanese"),
    ("KATAKANA", "Japanese"),
    ("HALFWIDTH KATAKANA", "Japanese"),
    ("HANGUL", "Korean"),
    ("HALFWIDTH HANGUL", "Korean"),
    ("CYRILLIC", "Cyrillic"),
    ("ARABIC", "Arabic"),
    ("HEBREW", "Hebrew"),
    ("GREEK", "Greek"),
    ("THAI", "Thai"),
    ("LAO", "Lao"),
    ("KHMER", "Khmer"),
    ("MYANMAR", "Burmese"),
    ("TIBETAN", "Tibetan"),
    ("MONGOLIAN", "Mongolian"),
    ("GEORGIAN", "Georgian"),
    ("ARMENIAN", "Armenian"),
    ("ETHIOPIC", "Ethiopic"),
    ("DEVANAGARI", "Devanagari"),
    ("BENGALI", "Bengali"),
    ("GURMUKHI", "Gurmukhi"),
    ("GUJARATI", "Gujarati"),
    ("ORIYA", "Oriya"),
    ("TAMIL", "Tamil"),
    ("TELUGU", "Telugu"),
    ("KANNADA", "Kannada"),
    ("MALAYALAM", "Malayalam"),
    ("SINHALA", "Sinhala"),
)
# CJK punctuation and full-width forms ("，", "。", "（", "Ａ") come with untranslated CJK text.
CJK_PUNCTUATION = "CJK punctuation"
CJK_TO_ASCII = str.maketrans({"。": ".", "、": ",", "「": "“", "」": "”", "『": "‘", "』": "’", "《": "“", "》": "”", "【": "[", "】": "]", "〈": "‘", "〉": "’", "　": " "})
# Single Greek letters are ordinary in English (alpha particle, π, Δ): flag only words.
MIN_RUN = {"Greek": 3}
# What may sit between two foreign characters of one run: "习近平 主席", "Владимир Путин".
RUN_GAP = re.compile(r"[\s\-·・.,'’]{1,3}")


@lru_cache(maxsize=4096)
def script_of(char: str) -> str | None:
    """The foreign script a character belongs to, or None for Latin, digits and symbols."""
    code = ord(char)
    if code < 0x0370:
        return None  # Latin, Latin-1 symbols (€ ° ×), IPA, combining marks
    if 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF60 or 0xFE30 <= code <= 0xFE4F:
        return CJK_PUNCTUATION
    name = unicodedata.name(char, "")
    for prefix, script in SCRIPT_PREFIXES:
        if name.startswith(prefix):
            return script
    if 0x3400 <= code <= 0x9FFF or 0x20000 <= code <= 0x2FA1F:
        return "Chinese"  # ideographs unicodedata may leave unnamed
    return None


def _run_script(scripts: set[str]) -> str:
    if "Japanese" in scripts:
        return "Japanese"
    if "Korean" in scripts:
        return "Korean"
    if "Chinese" in scripts or scripts == {CJK_PUNCTUATION}:
        return "Chinese"
    return sorted(scripts)[0]


def _same_family(a: str, b: str) -> bool:
    cjk = {"Chinese", "Japanese", "Korean", CJK_PUNCTUATION}
    return a == b or (a in cjk and b in cjk)


BEYOND_LATIN = re.compile("[^\x00-\u036f]")


def foreign_runs(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, script) of every run of foreign-script characters."""
    i, n = 0, len(text)
    while i < n:
        beyond = BEYOND_LATIN.search(text, i)  # script_of is None below U+0370: skip those in C
        if beyond is None:
            return
        i = beyond.start()
        script = script_of(text[i])
        if script is None:
            i += 1
            continue
        start, end, scripts = i, i + 1, {script}
        j = end
        while j < n:
            nxt = script_of(text[j])
            if nxt is not None and _same_family(script, nxt):
                scripts.add(nxt)
                end = j = j + 1
                continue
            if unicodedata.category(text[j]).startswith("M"):
                end = j = j + 1  # a combining mark belongs to its base letter
                continue
            gap = RUN_GAP.match(text, j)
            if gap and gap.end() < n and (after := script_of(text[gap.end()])) and _same_family(script, after):
                j = gap.end()
                continue
            break
        yield start, end, _run_script(scripts)
        i = end


@register
class UntranslatedResidue(Rule):
    """Catches words in a foreign script left untranslated in English text.

    Bad: ``The meeting was held in 北京 on Monday.`` / ``said minister Лавров.``
    Good: ``The meeting was held in Beijing on Monday.`` / ``said minister Lavrov.``

    Symbols such as €, °, × and single Greek letters (π, Δ) are not flagged; CJK
    punctuation (，。) is, with its ASCII equivalent as the suggestion.
    """

    code = "S001"
    slug = "untranslated-residue"
    severity = Severity.ERROR
    summary = "Characters of a foreign script (CJK, Cyrillic, Arabic…) inside English text."

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for start, end, script in foreign_runs(doc.text):
            run = doc.text[start:end]
            letters = sum(1 for c in run if script_of(c) is not None)
            if letters < MIN_RUN.get(script, 1):
                continue
            if all(script_of(c) in (CJK_PUNCTUATION, None) for c in run):
                ascii_form = unicodedata.normalize("NFKC", run.translate(CJK_TO_ASCII))
                yield self.finding(
                    start,
                    end,
                    f"Full-width or CJK punctuation '{run}' in English text.",
                    suggestion=ascii_form if ascii_form.isascii() else None,
                )
                continue
            yield self.finding(start, end, f"Untranslated {script} text '{run}'.")


def _cp1252_bytes() -> dict[str, int]:
    """Character → byte as a cp1252 decoder (with Latin-1 for its holes) would have made it."""
    table = {chr(b): b for b in range(256)}
    for b in range(0x80, 0xA0):
        try:
            table[bytes([b]).decode("cp1252")] = b
        except UnicodeDecodeError:
            pass  # 0x81, 0x8D, 0x8F, 0x90, 0x9D stay as C1 controls
    return table


CP1252_BYTE = _cp1252_bytes()


def _gpt2_bytes() -> dict[str, int]:
    """The byte-level BPE alphabet (GPT-2, RoBERTa...): printable bytes stand for themselves,
    the others (space, controls, 0x7F-0xA0, 0xAD) are shifted to U+0100 onwards."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {chr(b): b for b in printable}
    shift = 0
    for b in range(256):
        if b not in printable:
            table[chr(0x100 + shift)] = b
            shift += 1
    return table


BPE_BYTE = _gpt2_bytes()


def _class(chars: str) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(set(chars))) + "]"


def _matches_from(pattern: re.Pattern[str], lead: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern whose matches all start with ``lead``: tried only
    where a lead character stands (rare in English), not at every position."""
    resume = 0
    for candidate in lead.finditer(text):
        if candidate.start() < resume:
            continue
        m = pattern.match(text, candidate.start())
        if m is not None:
            resume = m.end()
            yield m


def _lead_pattern(byte_of: dict[str, int]) -> re.Pattern[str]:
    """The characters that stand for a UTF-8 lead byte: every garbled sequence starts with one."""
    return re.compile(_class([c for c, b in byte_of.items() if 0xC2 <= b <= 0xF4]))


def _utf8_pattern(byte_of: dict[str, int]) -> re.Pattern[str]:
    """UTF-8 multi-byte sequences as they look once each byte became a character."""
    lead2 = _class([c for c, b in byte_of.items() if 0xC2 <= b <= 0xDF])
    lead3 = _class([c for c, b in byte_of.items() if 0xE0 <= b <= 0xEF])
    lead4 = _class([c for c, b in byte_of.items() if 0xF0 <= b <= 0xF4])
    cont = _class([c for c, b in byte_of.items() if 0x80 <= b <= 0xBF])
    return re.compile(f"(?:{lead2}{cont}|{lead3}{cont}{{2}}|{lead4}{cont}{{3}})+")


LATIN1_UTF8 = _utf8_pattern(CP1252_BYTE)
BPE_UTF8 = _utf8_pattern({c: b for c, b in BPE_BYTE.items() if ord(c) >= 0x80})
LATIN1_LEAD = _lead_pattern(CP1252_BYTE)
BPE_LEAD = _lead_pattern(BPE_BYTE)
# "â€" whose third byte (0x9D of ”, a hole in cp1252) was dropped on the way.
BROKEN_QUOTE = re.compile("â€(?![\u0080-\u00ff\u0152-\u2122])")
BPE_SPACE = re.compile("[ĠĊ]")  # byte-level BPE space and newline


def _plausible(repaired: str, sequences: int) -> bool:
    """A repair is believable when it yields typical typography or several characters.

    "CAFÉ”" is a valid UTF-8 byte pair too (it gives 'ɔ'), so one pair must decode to a
    character that real text is full of: accented letters, quotes, dashes, currency, CJK.
    """
    if sequences > 1:
        return True
    code = ord(repaired[0])
    return (
        0xA0 <= code <= 0x17F
        or 0x2010 <= code <= 0x20BF
        or code in (0x2122, 0xFEFF)
        or script_of(repaired[0]) in ("Chinese", "Japanese", "Korean")
    )


def _decode(run: str, byte_of: dict[str, int]) -> str | None:
    try:
        return bytes(byte_of[c] for c in run).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return None


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as cp1252/Latin-1, repeatedly (text can be mangled twice)."""
    for _ in range(3):
        fixed = LATIN1_UTF8.sub(lambda m: _decode(m.group(), CP1252_BYTE) or m.group(), text)
        if fixed == text:
            break
        text = fixed
    return text


@register
class Mojibake(Rule):
    """Catches text whose encoding was garbled: UTF-8 read as Latin-1/cp1252, or the raw
    byte-level BPE alphabet of a tokenizer leaking into the output.

    Bad: ``the CafÃ© owner said â€œyesâ€`` / ``âĢľWe agreeâĢĿ`` / ``theĠpresident``
    Good: ``the Café owner said “yes”`` / ``“We agree”`` / ``the president``

    The suggestion is the repaired text when the bytes decode.
    """

    code = "S002"
    slug = "mojibake"
    severity = Severity.ERROR
    summary = "Garbled encoding ('Ã©', 'â€™', 'âĢľ', 'Ġ') or the replacement character '�'."

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        text = doc.text
        taken: list[tuple[int, int]] = []
        for pattern, lead, byte_of, origin in (
            (LATIN1_UTF8, LATIN1_LEAD, CP1252_BYTE, "UTF-8 text read as Latin-1/cp1252"),
            (BPE_UTF8, BPE_LEAD, BPE_BYTE, "raw byte-level BPE tokens"),
        ):
            for m in _matches_from(pattern, lead, text):
                if any(s < m.end() and m.start() < e for s, e in taken):
                    continue
                repaired = _decode(m.group(), byte_of)
                sequences = len(repaired) if repaired else 0
                if not repaired or not _plausible(repaired, sequences):
                    continue
                if byte_of is CP1252_BYTE:
                    repaired = repair_mojibake(repaired)
                taken.append((m.start(), m.end()))
                yield self.finding(
                    m.start(), m.end(), f"Garbled encoding ({origin}) '{m.group()}'.", suggestion=repaired
                )
        for m in BROKEN_QUOTE.finditer(text):
            if not any(s <= m.start() < e for s, e in taken):
                yield self.finding(
                    m.start(), m.end(), "Garbled encoding 'â€': probably a closing quote ”.", suggestion="”"
                )
        yield from self._bpe_spaces(text)
        for m in re.finditer("\ufffd+", text):
            yield self.finding(
                m.start(), m.end(), "Replacement character '�': a character was lost in decoding."
            )

    def _bpe_spaces(self, text: str) -> Iterator[Finding]:
        """Ġ/Ċ stand for space/newline in byte-level BPE; Maltese writes Ġ too, but only at the
        start of a lowercase word, so a Ġ glued to a preceding word or before a capital is BPE."""
        markers = list(BPE_SPACE.finditer(text))
        for m in markers:
            before = text[m.start() - 1] if m.start() else " "
            after = text[m.end()] if m.end() < len(text) else " "
            glued = not before.isspace()
            if not (glued or after.isupper() or after.isdigit() or len(markers) >= 3):
                continue
            replacement = " " if m.group() == "Ġ" else "\n"
            yield self.finding(
                m.start(), m.end(), f"Byte-level BPE marker '{m.group()}' left in the text.", suggestion=replacement
            )


HTML_TAGS = (
    "a|abbr|b|big|blockquote|br|code|del|div|em|font|h[1-6]|hr|i|img|ins|li|mark|ol|p|pre|q|s|"
    "small|span|strike|strong|sub|sup|table|td|th|tr|tt|u|ul"
)
SPECIAL_TOKENS = "unk|pad|mask|sep|cls|eos|bos|s|/s|nl|br|sep|unknown"
PLACEHOLDER_WORDS = (
    "NAME|FIRSTNAME|LASTNAME|PERSON|PLACEHOLDER|NUM|NUMBER|DATE|TIME|URL|LINK|EMAIL|PHONE|ADDRESS|"
    "ORG|ORGANIZATION|COMPANY|LOC|LOCATION|CITY|COUNTRY|PRODUCT|MONEY|AMOUNT|PERCENT|TITLE|MASK|UNK|"
    "TAG|IMAGE|IMG|ENTITY|TERM|VAR|VALUE|USER|USERNAME"
)
PLACEHOLDERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("format placeholder", re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}|\{(?:\d+|[A-Za-z_][\w.]*)(?::[^{}\s]*)?\}")),
    # Each pattern starts with a literal where it can (lookbehinds after it): re then skips ahead
    # to that character instead of trying every position, five times faster on plain prose.
    ("printf placeholder", re.compile(r"%(?<![\w%]%)(?:\d+\$)?[-+0#]*\d*(?:\.\d+)?[sdifuxX](?![A-Za-z])|%\([A-Za-z_]\w*\)[sd]")),
    ("HTML tag", re.compile(r"</?(?:" + HTML_TAGS + r")(?:\s+[a-z-]+=(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s<>]+))*\s*/?>")),
    ("special token", re.compile(r"<(?:" + SPECIAL_TOKENS + r")>|<\|[a-z_]+\|>", re.IGNORECASE)),
    ("HTML entity", re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,7}|#\d{1,7}|#[xX][0-9A-Fa-f]{1,6});")),
    ("bracketed placeholder", re.compile(r"\[\[[^\[\]\n]{1,40}\]\]|\[(?:" + PLACEHOLDER_WORDS + r")(?:_?\d+)?\]")),
    ("placeholder", re.compile(r"__(?<!\w__)[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*__(?!\w)")),
    ("BPE join marker", re.compile(r"@@(?<=\w@@)(?=\s|$)|@[-,.]@(?<=\s@[-,.]@)(?=\s)")),
    ("SentencePiece marker", re.compile("\u2581+")),
)


@register
class LeftoverPlaceholder(Rule):
    """Catches markup and placeholders of a translation pipeline left in the output.

    Bad: ``Hello {name}, the fee is %d euros.`` / ``a <b>bold</b> plan`` / ``Smith &amp; Co``
    / ``[NAME] said`` / ``presi@@ dent`` / ``__PLACEHOLDER__``
    Good: ``Hello Anna, the fee is 20 euros.`` / ``a bold plan`` / ``Smith & Co``

    Editorial brackets such as ``[sic]`` or ``[the US]`` are left alone.
    """

    code = "S003"
    slug = "leftover-placeholder"
    severity = Severity.WARNING
    summary = "Markup, format placeholders or tokenizer markers left in the text ('{0}', '<b>', '&amp;')."

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        taken: list[tuple[int, int]] = []
        for kind, pattern in PLACEHOLDERS:
            for m in pattern.finditer(doc.text):
                start, end = m.span()
                token = m.group()
                if any(s < end and start < e for s, e in taken):
                    continue
                suggestion = None
                if kind == "HTML entity":
                    suggestion = html.unescape(token)
                    if suggestion == token:
                        continue  # not a real entity: "&Co;"
                elif kind in ("HTML tag", "BPE join marker"):
                    suggestion = {"@@": "", "@-@": "-", "@,@": ",", "@.@": "."}.get(token, "")
                elif kind == "special token":
                    suggestion = ""
                elif kind == "SentencePiece marker":
                    suggestion = " "
                taken.append((start, end))
                yield self.finding(start, end, f"Leftover {kind} '{token}'.", suggestion=suggestion)


# -- S004 non-word -------------------------------------------------------------------------------
NON_WORD_MIN_LENGTH = 5  # shorter unknown words are mostly abbreviations, slang and typos of names
COMMON_WORD_FREQUENCY = 1e-6  # wordfreq frequency (Zipf 3): a word most readers know
LETTERS = "abcdefghijklmnopqrstuvwxyz"
URL_OR_HANDLE = frozenset("@#/\\_.:")
# Prefixes English forms new words with: "reshore", "misfile" are real words wordfreq lacks.
PRODUCTIVE_PREFIXES = (
    "re", "un", "non", "over", "under", "out", "pre", "post", "co", "mis", "anti", "sub", "super",
    "inter", "counter", "multi", "semi", "cross", "de", "dis",
)  # fmt: skip


@lru_cache(maxsize=1)
def english_frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    # The arguments exactly as zipf_frequency passes them: one cached dictionary for both (lru_cache
    # keys on how a call is spelled; building it twice cost 0.07 s of every run's first check).
    return get_frequency_dict("en", "best")


def one_edit_away(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in LETTERS if c != b[0]}
    inserts = {a + c + b for a, b in splits for c in LETTERS}
    return deletes | transposes | replaces | inserts


def common_neighbour(word: str) -> str | None:
    """The most frequent common English word one edit away from ``word``, if any."""
    frequencies = english_frequencies()
    scored = [(frequencies.get(c, 0.0), c) for c in one_edit_away(word)]
    frequency, best = max(scored, default=(0.0, None))
    return best if frequency >= COMMON_WORD_FREQUENCY else None


def derived_from_common_word(word: str) -> bool:
    """Whether ``word`` is a productive prefix before a common word ("re" + "shore")."""
    frequencies = english_frequencies()
    return any(
        word.startswith(prefix) and len(word) - len(prefix) >= 3
        and frequencies.get(word[len(prefix) :], 0.0) >= COMMON_WORD_FREQUENCY
        for prefix in PRODUCTIVE_PREFIXES
    )


def inflects_known_word(word: str, frequencies: dict[str, float]) -> bool:
    """Whether ``word`` is a plural of a word wordfreq knows, however rare ('stomas' from
    'stoma'): wordfreq lists rare terms in one form only."""
    return any(word.endswith(suffix) and word[: -len(suffix)] in frequencies for suffix in ("s", "es"))


def _in_url_or_handle(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return before in URL_OR_HANDLE or after in "@/\\_" or (after in ".:" and text[end + 1 : end + 2].isalnum())


@register
class NonWord(Rule):
    """Catches a word English does not have, one letter away from a common word: MT systems that
    build words from subword pieces produce them ("presidnet", "abundent").

    Bad: ``The presidnet will travel to Paris.`` / ``an abundent harvest``
    Good: ``The president will travel to Paris.`` / ``an abundant harvest``

    Only lowercase words of five letters or more that wordfreq has never seen are checked, and only
    when a common word is one edit away (that word is the suggestion): names, abbreviations, URLs,
    handles and rare but real words are left alone, and so are new words made by a prefix before
    a common word ("reshore", "misfile"). Add a term to the allowlist to accept it.
    """

    code = "S004"
    slug = "non-word"
    severity = Severity.WARNING
    summary = "A word English does not have, one letter from a common one ('presidnet' for 'president')."

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        # Everything but the URL test depends on the word alone: each distinct word is judged
        # once, and the words are walked only when one of them is a non-word.
        distinct: set[str] = set()
        for sentence in doc.sentences:
            distinct.update(map(WORD_TEXT, sentence.words))
        neighbours = {token: n for token in distinct if (n := self._neighbour(token, ctx)) is not None}
        if not neighbours:
            return
        for word in doc.words:
            neighbour = neighbours.get(word.text)
            if neighbour is not None and not _in_url_or_handle(doc.text, word.start, word.end):
                yield self.finding(
                    word.start,
                    word.end,
                    f"'{word.text}' is not an English word; '{neighbour}' is one letter away.",
                    suggestion=neighbour,
                )

    def _neighbour(self, token: str, ctx: RuleContext) -> str | None:
        """The common word one letter from ``token`` if ``token`` is a non-word, else None."""
        if len(token) < NON_WORD_MIN_LENGTH or not (token.isascii() and token.isalpha() and token.islower()):
            return None
        frequencies = english_frequencies()
        if token in frequencies or ctx.allowed(token):
            return None
        if derived_from_common_word(token) or inflects_known_word(token, frequencies):
            return None
        return common_neighbour(token)
