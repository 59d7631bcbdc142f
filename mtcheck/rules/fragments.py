"""Fragment rules: sentences that are only a piece of a sentence.

Machine translation often splits one source sentence into two English ones and leaves a
piece without a verb ("… of Russia. War in Ukraine.") or an attribution with nothing to
attribute ("He said.").

There is no part-of-speech tagger here: a word counts as a verb when it is in a compact
lexicon of common verbs (with their inflections) or has verb morphology (-ed, -ing). That
over-counts verbs ("talks", "armed"), which errs on the side of not flagging.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from mtcheck.document import CLOSERS, WORD_TEXT, Document, Sentence, Word
from mtcheck.findings import Finding, Severity
from mtcheck.rules.base import Rule, RuleContext, register
from mtcheck.rules.quote_pairing import DOUBLE_MARK

AUXILIARIES = frozenset(
    """
    be am is are was were been being have has had having do does did done doing
    can could will would shall should may might must ought need dare
    isn't aren't wasn't weren't hasn't haven't hadn't don't doesn't didn't can't couldn't
    won't wouldn't shouldn't mustn't cannot let's
    """.split()
)

# Irregular past and participle forms (regular ones are caught by the -ed ending).
IRREGULAR_FORMS = frozenset(
    """
    said told went gone came become became began begun brought bought built caught chose chosen
    drew drawn drove driven ate eaten fell fallen felt fought found flew flown forgot forgotten
    gave given got gotten grew grown held heard hid hidden hit hurt kept knew known laid led left
    lent lost made meant met paid put quit ran read rode ridden rang rose risen saw seen sought
    sold sent set shook shaken shot shut sang sung sank sunk sat slept spoke spoken spent split
    spread stood stole stolen struck swore sworn swept swam swung took taken taught tore torn
    thought threw thrown understood woke woken wore worn won wound wrote written withdrew
    withdrawn undertook undertaken overcame overtook forbade forbidden forgave forgiven beat
    beaten bent bet bid bit bitten blew blown broke broken burnt dealt dug fed fled flung forecast
    froze frozen hung lit meant overseen oversaw rebuilt sped stuck stung strove striven thrust
    upheld upset wept
    """.split()
)

# Base forms of the verbs news prose uses most; -s forms are derived from these.
COMMON_VERBS = frozenset(
    """
    accept accuse achieve act add admit agree aim allow announce answer appear apply argue arrive
    ask attack attend avoid back ban base bear beat become begin believe belong blame block blow
    break bring build burn buy call care carry catch cause change charge check choose claim close
    come comment compare complain concern confirm consider contain continue contribute control
    cost count cover create cross cut deal decide declare decline deem defend deliver demand deny
    depend describe destroy develop die discuss do draw dream drink drive drop earn eat encourage
    end enjoy ensure enter escape establish exist expand expect explain express face fail fall
    fear feel fight fill find finish fit fly follow force forget form gain get give go grow
    guess handle happen hate have head hear help hide hire hit hold hope hurt identify ignore
    imagine improve include increase indicate insist intend introduce invest invite involve join
    keep kill know lack last laugh launch lead learn leave lend let lie like limit listen live
    look lose love maintain make manage mark matter mean meet mention mind miss move need note
    notice obtain occur offer open operate order own pass pay perform pick place plan play point
    pose prefer prepare present press prevent produce promise protect prove provide publish pull
    push put raise reach read realise realize receive recognise recognize recommend record reduce
    refuse reject release remain remember remove repeat replace reply report represent require
    respond rest result return reveal rise risk rule run save say see seek seem sell send serve
    set settle share shoot show sign sing sit sleep smile sound speak spend stand start state stay
    stop struggle study succeed suffer suggest support suppose surprise survive suspect take talk
    teach tell tend thank think threaten throw touch train travel treat try turn understand unite
    urge use visit vote wait walk want warn watch wear win wish wonder work worry write
    """.split()
)

# Verbs of instructions for software and devices: "Tap Settings." is a step, not a fragment.
INSTRUCTION_VERBS = frozenset(
    """
    tap click press select swipe scroll type toggle enable disable install uninstall download
    upload restart reboot reset drag paste copy delete edit update refresh navigate scan connect
    disconnect unplug plug insert attach clear sync log tick untick uncheck confirm hover zoom
    """.split()
)

BASE_VERBS = COMMON_VERBS | INSTRUCTION_VERBS  # -s, -es and -ies forms are derived from these

SPEECH_VERBS = frozenset(
    """
    said says added adds stated states noted notes told tells wrote writes remarked remarks
    stressed stresses emphasized emphasised emphasizes emphasises explained explains continued
    continues insisted insists asked asks replied replies argued argues warned warns claimed
    claims announced announces declared declares concluded concludes commented comments
    acknowledged acknowledges reported reports quoted observed observes recalled recalls
    """.split()
)
SUBJECT_PRONOUNS = frozenset({"he", "she", "they", "it", "we", "i", "you"})
DETERMINERS = frozenset({"the", "a", "an", "his", "her", "their", "its", "our", "this", "that"})
ATTRIBUTION_ADVERBS = frozenset(
    """
    then later also too again earlier further previously yesterday today tonight recently
    separately afterwards
    """.split()
)
TIME_WORDS = frozenset(
    """
    monday tuesday wednesday thursday friday saturday sunday week month year weekend morning
    afternoon evening night
    """.split()
)
STATEMENT_WORDS = frozenset({"statement", "interview", "speech", "post", "tweet", "letter", "briefing"})
WH_WORDS = frozenset({"what", "who", "whom", "whose", "which", "how", "why", "where", "when"})
OBJECT_PRONOUNS = frozenset({"him", "her", "them", "it", "us", "me"})
QUANTIFIERS = frozenset(
    """
    nobody everyone everybody someone somebody anyone anybody nothing none all many few some
    others both each neither either most no one
    """.split()
)
# A preposition or conjunction inside the 'subject' means a clause, not a speaker.
FUNCTION_WORDS_IN_NP = frozenset({"and", "or", "but", "if", "when", "that", "which", "who", "to", "in", "on", "with"})
CONTRACTION_VERB = re.compile(r"(?:n[’']t|[’'](?:re|ve|ll|m|d))$", re.IGNORECASE)
# "it's", "one's" (one is): a lower-case word before 's is read as a contraction; a capitalised
# one ("Russia's") as a possessive.
LOWER_CONTRACTION_S = re.compile(r"^[a-z]+[’']s$")
PRONOUN_CONTRACTIONS = frozenset(
    "it's he's she's that's there's here's what's who's where's how's let's".split()
)
END_MARK = re.compile(r"[.]\W*$")
QUESTION_THEN_CLOSERS = re.compile(r"[?!…][" + re.escape(CLOSERS) + r"]+$")


def is_verb(word: str) -> bool:
    """A word that may be a verb form (generous: nouns like 'talks' count too)."""
    w = word.lower().replace("’", "'")
    if w in AUXILIARIES or w in IRREGULAR_FORMS or w in BASE_VERBS or w in SPEECH_VERBS:
        return True
    if CONTRACTION_VERB.search(w) or LOWER_CONTRACTION_S.match(word) or w in PRONOUN_CONTRACTIONS:
        return True
    if len(w) >= 5 and (w.endswith("ed") or w.endswith("ing")):
        return True
    if w.endswith("ies") and w[:-3] + "y" in BASE_VERBS:
        return True
    if w.endswith("es") and w[:-2] in BASE_VERBS:
        return True
    return w.endswith("s") and w[:-1] in BASE_VERBS


def has_verb(words: Sequence[Word]) -> bool:
    """True when some word may be a verb, or a subject pronoun is followed by a word ("I lay eggs")."""
    if any(is_verb(w.text) for w in words):
        return True
    return any(w.text.lower() in SUBJECT_PRONOUNS for w in words[:-1])


def body_start(doc: Document, min_words: int = 8) -> int:
    """Index of the first full-length sentence: what comes before is headline, byline, dateline."""
    for sentence in doc.sentences:
        if len(sentence.words) >= min_words:
            return sentence.index
    return len(doc.sentences)


def _is_bare_noun_phrase(words: Sequence[str], max_words: int = 4) -> bool:
    """'the minister', 'Chinese state media', 'Mr. Li', 'officials': a few words, no verb.

    Quantifiers ("Nobody said.") and lower-case starts other than a determiner or a plural
    ("officials", "analysts") are not taken for a speaker.
    """
    if not words or len(words) > max_words:
        return False
    lowered = [w.lower() for w in words]
    if any(w in QUANTIFIERS or w in FUNCTION_WORDS_IN_NP for w in lowered):
        return False
    # Nouns that look like verbs ("the report said") are fine; a clause inside is not.
    if any(w in AUXILIARIES or w in SUBJECT_PRONOUNS or w in WH_WORDS for w in lowered):
        return False
    if any(len(w) >= 5 and w.endswith(("ed", "ing")) for w in lowered):
        return False
    if lowered[0] in DETERMINERS:
        return len(words) >= 2
    return words[0][:1].isupper() or (len(words) == 1 and lowered[0].endswith("s"))


@register
class OrphanAttribution(Rule):
    """Catches a sentence that is only an attribution, cut off from what was said.

    Bad: ``The ties are strong. He said.`` / ``The minister added.`` / ``According to the ministry.``
    Good: ``The ties are strong, he said.`` / ``He said he would go.``
    """

    code = "G001"
    slug = "orphan-attribution"
    severity = Severity.WARNING
    summary = "A sentence that is only 'He said.' or 'According to X.'"

    MAX_SUBJECT_WORDS = 4

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        previous: Sentence | None = None
        for sentence in doc.sentences:
            before, previous = previous, sentence
            if not END_MARK.search(sentence.text) or DOUBLE_MARK.search(sentence.text):
                continue
            if self._follows_quoted_question(before):
                continue
            tokens = list(map(WORD_TEXT, sentence.words))
            if SPEECH_VERBS.isdisjoint(map(str.lower, tokens)) and not (tokens and tokens[0].lower() == "according"):
                continue  # neither kind of attribution (the test below, in a few C calls)
            if self._is_orphan(tokens) and not ctx.allowed(sentence.text):
                yield self.finding(
                    sentence.start,
                    sentence.end,
                    "This attribution stands alone: it should be joined to the quoted "
                    "sentence it belongs to ('…, he said.').",
                )

    def _follows_quoted_question(self, previous: Sentence | None) -> bool:
        """'“…what hope is there?” Schladow said.': the splitter cut after '?”', the English is fine."""
        if previous is None:
            return False
        return QUESTION_THEN_CLOSERS.search(previous.text) is not None

    def _is_orphan(self, tokens: list[str]) -> bool:
        lowered = [t.lower() for t in tokens]
        if len(lowered) >= 3 and lowered[:2] == ["according", "to"]:
            rest = tokens[2:]
            return rest[0].lower() in OBJECT_PRONOUNS and len(rest) == 1 or _is_bare_noun_phrase(rest)
        tokens = tokens[: len(tokens) - _trailing_modifier_length(lowered)]
        lowered = lowered[: len(tokens)]
        verb_at = next((i for i, t in enumerate(lowered) if t in SPEECH_VERBS), None)
        if not verb_at:
            return False
        obj = tokens[verb_at + 1 :]
        # "He told reporters." is as empty as "He said."; other verbs take no object here.
        if obj and not (lowered[verb_at] in ("told", "tells") and _is_bare_noun_phrase(obj, max_words=3)):
            return False
        subject = [t for t in tokens[:verb_at] if t.lower() not in ATTRIBUTION_ADVERBS]
        if len(subject) == 1 and subject[0].lower() in SUBJECT_PRONOUNS:
            return True
        return _is_bare_noun_phrase(subject, self.MAX_SUBJECT_WORDS)


def _trailing_modifier_length(lowered: list[str]) -> int:
    """How many final words are 'later', 'on Monday', 'in a statement': what an attribution may carry."""
    n = len(lowered)
    cut = 0
    while cut < n:
        tail = lowered[: n - cut]
        if tail[-1] in ATTRIBUTION_ADVERBS:
            cut += 1
        elif len(tail) >= 2 and tail[-2] in ("on", "last", "this") and tail[-1] in TIME_WORDS:
            cut += 2
        elif len(tail) >= 3 and tail[-3] == "in" and tail[-2] in ("a", "an") and tail[-1] in STATEMENT_WORDS:
            cut += 3
        else:
            break
    return cut


# Sentences like "Of course." or "Not yet." are deliberate fragments.
DISCOURSE_OPENERS = frozenset(
    """
    not no yes of so and or but too me good happy well okay ok oh ah wow really indeed exactly
    absolutely certainly perhaps maybe sure right why what how until never always again still
    thanks thank hello hi bye sorry please congratulations cheers welcome enough all nothing
    everything something anything more less just only quite far much very
    """.split()
)
# Credits and captions ("Getty Images.", "Photo courtesy NASA.") are short and verbless by nature.
CREDIT_WORDS = frozenset(
    """
    photo photos image images picture pictures copyright getty reuters afp ap epa ani pti xinhua
    courtesy credit caption source sources editing reporting advertisement video file handout
    """.split()
)
FUNCTION_WORDS = frozenset(
    """
    the a an of in on at to for from by with and or but as this that these those its his her their
    our my your into over under after before since during between
    """.split()
)
# The section labels of structured abstracts and reports, written inline as sentences:
# "Materials and methods.", "Background and aims.", "Main outcome measures."
SECTION_LABEL_WORDS = frozenset(
    """
    background backgrounds aim aims objective objectives purpose purposes introduction methods method
    methodology materials material patients subjects participants design setting settings results
    findings conclusion conclusions discussion limitations measures measurements outcome outcomes
    main study interpretation relevance importance significance case report presentation summary
    abstract keywords context interventions evidence rationale
    """.split()
)


@register
class VerblessFragment(Rule):
    """Catches a very short sentence without a verb split off a neighbouring sentence.

    Bad: ``Prices rose sharply after the start of the conflict. Conflict in the region.``
    Good: ``Prices rose sharply after the start of the conflict in the region.``

    Headlines and bylines at the start of the document, questions, exclamations, quotations,
    credits, short replies ("Not yet."), instruction steps ("Tap Settings.") and the section labels
    of structured abstracts ("Materials and methods.") are left alone; so is a sentence that is a
    paragraph of its own.
    """

    code = "G002"
    slug = "verbless-fragment"
    severity = Severity.WARNING
    summary = "A short sentence with no verb, split off its neighbour ('War in Ukraine.')."

    MAX_WORDS = 5

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        first_body = body_start(doc)
        for paragraph in doc.paragraphs:
            if len(paragraph.sentences) < 2:
                continue
            for sentence in paragraph.sentences:
                if sentence.index < first_body or not self._is_fragment(sentence):
                    continue
                if ctx.allowed(sentence.text):
                    continue
                yield self.finding(
                    sentence.start,
                    sentence.end,
                    "This short sentence has no verb; it was probably split off the sentence next to it.",
                )

    def _is_fragment(self, sentence: Sentence) -> bool:
        words = sentence.words
        if not 2 <= len(words) <= self.MAX_WORDS:
            return False
        text = sentence.text
        # A lower-case start means the splitter cut after an abbreviation or ordinal, not the writer.
        if not words[0].text[:1].isupper():
            return False
        if not text.endswith(".") or re.search(r"[\"“”«»:;()\[\]/@#]|\d|\.\.", text):
            return False
        lowered = [w.text.lower() for w in words]
        if lowered[0] in DISCOURSE_OPENERS or any(w in CREDIT_WORDS for w in lowered):
            return False
        content = [w for w in lowered if w not in FUNCTION_WORDS and len(w) >= 3]
        if not content or all(w in SECTION_LABEL_WORDS for w in content):
            return False
        # "Amy Chang Chi-en." or "John Smith." alone is a signature, not a fragment.
        if all(w.is_capitalized for w in words):
            return False
        return not has_verb(words)


QUOTE_TAIL = re.compile(r"[,!?][”\"’']\s+(?P<tail>[^”\"“]+?)\s*[.!?]?\s*$")


@register
class DanglingAttributionFragment(Rule):
    """Catches a quotation followed by a noun phrase with no speech verb after it.

    Bad: ``“We will win together,” the minister.``
    Good: ``“We will win together,” the minister said.`` / ``“…,” according to the ministry.``

    The span is the verbless tail after the closing quote.
    """

    code = "G003"
    slug = "dangling-attribution-fragment"
    severity = Severity.WARNING
    summary = "A quotation followed by a verbless tail (',” the media.')."

    MAX_TAIL_WORDS = 6

    def check(self, doc: Document, ctx: RuleContext) -> Iterator[Finding]:
        for sentence in doc.sentences:
            m = QUOTE_TAIL.search(sentence.text)
            if not m or not self._quote_is_the_content(sentence.text[: m.start("tail")]):
                continue
            tail = m.group("tail")
            tail_words = [w for w in sentence.words if w.start >= sentence.start + m.start("tail")]
            if not tail_words or len(tail_words) > self.MAX_TAIL_WORDS:
                continue
            if any(w.text.lower() in SPEECH_VERBS for w in tail_words):
                continue
            # "the state media": a noun phrase may hold verb-like nouns, but a verb-like last word
            # makes a clause ("the document reads"); anything else must be verbless.
            tail_texts = [w.text for w in tail_words]
            if is_verb(tail_texts[-1]):
                continue
            if not _is_bare_noun_phrase(tail_texts, self.MAX_TAIL_WORDS) and has_verb(tail_words):
                continue
            if tail_words[0].text.lower() in {"according", "as", "per", "via"}:
                continue
            start = sentence.start + m.start("tail")
            end = start + len(tail)
            if ctx.allowed(tail):
                continue
            yield self.finding(
                start,
                end,
                f"'{tail}' follows the quotation but says nothing about it: a speech verb is missing.",
                suggestion=f"{tail} said",
            )

    def _quote_is_the_content(self, head: str) -> bool:
        """The quotation opens the sentence (or continues one from the sentence before).

        A quote opened mid-sentence ("He called it “bold,” the first of its kind.") is a
        quoted term inside a sentence, and its tail is an apposition, not an attribution.
        """
        body = head.lstrip()
        curly_openers = [i for i, ch in enumerate(body) if ch in "“«"]
        if any(i > 0 for i in curly_openers):
            return False
        straight = [i for i, ch in enumerate(body) if ch == '"']
        return len(straight) <= 1 or straight[0] == 0
