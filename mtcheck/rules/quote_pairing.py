"""How quotation marks pair up in a paragraph: the analysis behind the quote rules (mtcheck.rules.quotes).

Quotes are paired per paragraph. Curly double marks carry their direction; a straight
``"`` gets one from what touches it on each side, and the pairing with the fewest
suspicious choices wins (a small dynamic programme), so an odd count blames the mark that
looks most out of place rather than simply the last one. Single marks are apostrophes far
more often than quotes, so they only pair when clearly used as quotes and only an
unmatched curly ``‘`` is reported.

News conventions that are not errors:
- a quotation that runs over several paragraphs opens every paragraph and closes only in
  the last one ("continued" quotes);
- text laid out one sentence per line splits a quotation over lines, so an opener left
  open at the end of a paragraph may be closed at the start of the next.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from mtcheck.document import PARAGRAPH_BREAK, Document, Paragraph

INF = float("inf")
# Cost of leaving a mark unpaired; every other choice is cheaper, so pairing is preferred
# whenever the marks' directions allow it.
UNMATCHED = 4.0
INCH_COST = 0.5  # a '"' right after a digit may be an inch mark: 55" screen
CONTINUE_COST = 0.5  # reopening after a sentence end without closing: merged paragraphs
NEST_COST = 1.5  # double marks inside double marks: wrong style, but paired
MAX_DEPTH = 2
MAX_CARRY_GAP = 3  # quote-free paragraphs an open quotation may run through

DOUBLE_OPENERS = "“«"
DOUBLE_CLOSERS = "”»"
STRAIGHT_DOUBLE = '"'
DOUBLE_MARKS = DOUBLE_OPENERS + DOUBLE_CLOSERS + STRAIGHT_DOUBLE
SINGLE_MARKS = "‘’'"

# What may touch an opening mark on its left, and a closing mark on its right.
OPEN_CONTEXT = frozenset("([{<—–-/")
CLOSE_CONTEXT = frozenset(".,;:!?)]}>…—–-/")
SENTENCE_END = frozenset(".!?…")

# Words that follow a leading apostrophe in informal English: 'em, 'til, 'cause.
ELISIONS = frozenset("em til cause cos tis twas bout round ere ol nuff".split())
POSSESSIVE_LIKE = re.compile(r"[a-z]s\"[ \t]+[a-z]")  # 'enemies" distress'
RN_ROLL = re.compile(r"['’‘]n['’]")

REPORTING_VERBS = (
    "said|says|say|added|adds|told|tells|stated|states|declared|declares|noted|notes|wrote|writes|"
    "warned|warns|insisted|insists|explained|explains|stressed|stresses|asked|asks|replied|replies|"
    "argued|argues|announced|announces|remarked|continued|concluded|emphasized|emphasised|claimed|"
    "claims|commented|urged|answered|responded|recalled|admitted|acknowledged|cautioned|observed"
)
# Where a quotation usually begins: after a colon, or after "said," / "added:".
COLON_INTRODUCER = re.compile(r":\s+")
COMMA_AFTER = re.compile(r",\s+")
VERB_AT_END = re.compile(r"\b(?:" + REPORTING_VERBS + r")\Z", re.IGNORECASE)
LONGEST_VERB = max(map(len, REPORTING_VERBS.split("|")))


def introducer_ends(text: str, lo: int, hi: int) -> list[int]:
    """Where a quotation may begin in text[lo:hi] after its introducer: a colon (":␣") or a
    reporting verb and a comma ("said,␣"). Found from the colons and commas, which re skips
    ahead to, rather than by trying the verbs at every position (a fifth of a second per MB).
    Each is the position after the introducer's spaces, where the plain pattern (a colon or a
    verb, then a comma, then spaces) would end its match (tested)."""
    ends = [m.end() for m in COLON_INTRODUCER.finditer(text, lo, hi)]
    for m in COMMA_AFTER.finditer(text, lo, hi):
        verb_end = m.start()
        while verb_end > lo and text[verb_end - 1].isspace():
            verb_end -= 1
        if VERB_AT_END.search(text, max(lo, verb_end - LONGEST_VERB), verb_end):
            ends.append(m.end())
    return ends


INTRODUCER_BEFORE = re.compile(r"(?::|\b(?:" + REPORTING_VERBS + r")\s*,)\s*$", re.IGNORECASE)
INTRODUCER_LOOKBACK = 200  # characters before an opening mark searched for "said:" / "added,"
REPORTED_BEFORE = re.compile(r"\b(?:" + REPORTING_VERBS + r")\s*[,:]\s+$", re.IGNORECASE)
# Words that cannot begin a quoted statement: they continue a clause that started earlier.
MID_CLAUSE_STARTS = frozenset(
    "to of by with from than and or nor into onto toward towards whom whose which".split()
)


class Mark(NamedTuple):
    """A quotation mark and where it stands (tuples: an attack puts one every five characters)."""

    pos: int
    char: str


@dataclass
class ParagraphQuotes:
    """How the quotation marks of one paragraph pair up."""

    paragraph: Paragraph
    pairs: list[tuple[Mark, Mark]] = field(default_factory=list)
    unmatched_open: list[Mark] = field(default_factory=list)
    unmatched_close: list[Mark] = field(default_factory=list)
    misdirected: list[Mark] = field(default_factory=list)  # curly marks used the other way round
    final_open: Mark | None = None  # opener still open at the end, not continued
    clause_starts: "_ClauseStarts | None" = None  # built on first use by truncation_start
    truncations: dict[int, int | None] = field(default_factory=dict)  # truncation_start by closer position


class _Double(NamedTuple):
    mark: Mark
    open_cost: float
    close_cost: float
    inch: bool
    continues: bool  # may reopen an open quotation after a sentence end
    looks_closing: bool  # which list a stray mark goes to when it pairs with nothing


# What the pairing does with each mark.
OPEN, CLOSE, SKIP, INCH, ABANDON, CONTINUE = range(6)


def _neighbours(text: str, i: int, lo: int, hi: int) -> tuple[str, str]:
    before = text[i - 1] if i > lo else " "
    after = text[i + 1] if i + 1 < hi else " "
    return before, after


def _previous_visible(text: str, i: int, lo: int) -> tuple[str, bool]:
    """The nearest non-space character before ``i`` and whether space separates them."""
    j = i - 1
    while j >= lo and text[j].isspace():
        j -= 1
    return (text[j] if j >= lo else ""), j < i - 1


DOUBLE_MARK = re.compile("[" + DOUBLE_MARKS + "]")


def _doubles(text: str, lo: int, hi: int) -> list[_Double]:
    """The double marks of text[lo:hi], each with what it may do (one pass: an attack may put a
    mark every few characters)."""
    new = tuple.__new__  # the named tuples without their Python-level __new__: a third of the time
    found = []
    for m in DOUBLE_MARK.finditer(text, lo, hi):
        i, char = m.start(), m.group()
        before, after = _neighbours(text, i, lo, hi)
        kind = _double_kind(char, before, after, *_previous_visible(text, i, lo))
        found.append(new(_Double, (new(Mark, (i, char)), *kind)))
    return found


@lru_cache(maxsize=4096)  # a handful of contexts recur: one computation each, not one per mark
def _double_kind(char: str, before: str, after: str, visible: str, spaced: bool) -> tuple[float, float, bool, bool, bool]:
    """What a double mark may do, from the characters around it: (open cost, close cost, inch,
    continues, looks closing), the fields of :class:`_Double` after the mark."""
    opens_left = before.isspace() or before in OPEN_CONTEXT
    closes_right = after.isspace() or after in CLOSE_CONTEXT
    # A curly mark may serve the other way round ('“Rumours“'), at a cost: more when its
    # surroundings do not clearly call for the other direction.
    flip = 2.0 if opens_left != closes_right else 3.0 if opens_left else INF
    if char in DOUBLE_OPENERS:
        open_cost, close_cost = 0.0, (flip if closes_right else INF)
    elif char in DOUBLE_CLOSERS:
        open_cost, close_cost = (flip if opens_left else INF), 0.0
    elif opens_left and not closes_right:
        open_cost, close_cost = 0.0, 3.0
    elif closes_right and not opens_left:
        open_cost, close_cost = 3.0, 0.0
    elif opens_left and closes_right:
        open_cost, close_cost = 1.0, 1.0  # spaced on both sides: ' " '
    else:
        open_cost, close_cost = 1.5, 1.5  # glued on both sides: 'said:"We'
    continues = open_cost == 0.0 and spaced and visible in SENTENCE_END
    if char in DOUBLE_CLOSERS or (char == STRAIGHT_DOUBLE and close_cost < open_cost):
        looks_closing = True
    elif char in DOUBLE_OPENERS or open_cost < close_cost:
        looks_closing = False
    else:
        looks_closing = visible in ",.;:!?"  # 'senator, " is': a closer that lost its place
    inch = char in '"”' and before.isdigit()
    return open_cost, close_cost, inch, continues, looks_closing


Back = tuple[int, int]  # the state before a mark, and the action taken on it
# One step of the pairing: the reachable states with their costs above the cheapest (in the order
# they were reached), how much the cheapest grew, and how each state was reached.
Step = tuple[tuple[tuple[int, float], ...], float, dict[int, Back]]
_STEPS: dict[tuple, Step] = {}
MAX_STEPS_KEPT = 10_000


def _step(layer: tuple[tuple[int, float], ...], d: _Double) -> Step:
    """The states after mark ``d``, from the states before it. Costs are kept relative to the
    cheapest state, so a paragraph's many marks in the same situation share one step; every cost
    is a multiple of 0.5, so the sums are exact and the choices the same as with absolute costs."""
    key = (layer, d.open_cost, d.close_cost, d.inch, d.continues)
    step = _STEPS.get(key)
    if step is not None:
        return step
    nxt: dict[int, tuple[float, Back]] = {}
    for depth, cost in layer:
        # (state, cost, action) in the order they were always tried: on equal cost the first stays
        moves = []
        if depth < MAX_DEPTH:
            moves.append((depth + 1, cost + d.open_cost + (NEST_COST if depth else 0.0), OPEN))
        if depth:
            moves.append((depth - 1, cost + d.close_cost, CLOSE))
            if d.continues:
                moves.append((depth, cost + CONTINUE_COST + d.open_cost, CONTINUE))
            moves.append((depth, cost + UNMATCHED + d.open_cost, ABANDON))
        if d.inch:
            moves.append((depth, cost + INCH_COST, INCH))
        moves.append((depth, cost + UNMATCHED, SKIP))
        for state, total, action in moves:
            if total < (nxt[state][0] if state in nxt else INF):
                nxt[state] = (total, (depth, action))
    cheapest = min(total for total, _ in nxt.values())
    step = (tuple((state, total - cheapest) for state, (total, _) in nxt.items()), cheapest, {s: b for s, (_, b) in nxt.items()})
    if len(_STEPS) >= MAX_STEPS_KEPT:
        _STEPS.clear()
    _STEPS[key] = step
    return step


def _solve(doubles: list[_Double], start_open: bool, end_free: bool) -> tuple[float, list[int]]:
    """Cheapest sequence of actions, one per mark.

    The state is how many quotations are open (0, 1, or 2 for a quotation nested in
    another with double marks, as in 'did not "frame" Huawei,"' inside a quote).
    """
    layer: tuple[tuple[int, float], ...] = ((1 if start_open else 0, 0.0),)
    offset = 0.0
    backs: list[dict[int, Back]] = []
    for d in doubles:
        layer, grew, back = _step(layer, d)
        offset += grew
        backs.append(back)
    # At the end every open quotation is unmatched, except the outermost one when the next
    # paragraph continues it.
    ends = {d: offset + c + UNMATCHED * max(0, d - end_free) for d, c in layer}
    state = min(ends, key=lambda s: (ends[s], -s))  # ties: leave it open, a later paragraph may close it
    total = ends[state]
    actions: list[int] = []
    for back in reversed(backs):
        state, action = back[state]
        actions.append(action)
    return total, actions[::-1]


CARRIED = Mark(-1, "")  # an opener left open by the previous paragraph


def _apply(
    result: ParagraphQuotes, doubles: list[_Double], actions: list[int], start_open: bool, end_free: bool
) -> Mark | None:
    """Record pairs and unmatched marks; return the mark that closes a carried-over opener."""
    stack: list[Mark] = [CARRIED] if start_open else []
    carried_closer = None
    for d, action in zip(doubles, actions):
        if action in (OPEN, ABANDON, CONTINUE) and d.mark.char in DOUBLE_CLOSERS:
            result.misdirected.append(d.mark)
        elif action == CLOSE and d.mark.char in DOUBLE_OPENERS:
            result.misdirected.append(d.mark)
        if action == OPEN:
            stack.append(d.mark)
        elif action == CLOSE:
            opener = stack.pop()
            if opener is CARRIED:
                carried_closer = d.mark
            else:
                result.pairs.append((opener, d.mark))
        elif action == ABANDON:
            if stack[-1] is not CARRIED:
                result.unmatched_open.append(stack[-1])
            stack[-1] = d.mark
        elif action == CONTINUE:
            stack[-1] = d.mark
        elif action == SKIP:
            (result.unmatched_close if d.looks_closing else result.unmatched_open).append(d.mark)
    if end_free and stack:
        stack.pop(0)  # the outermost quotation goes on in the next paragraph
    for opener in stack:
        if opener is not CARRIED:
            result.unmatched_open.append(opener)
            result.final_open = opener
    return carried_closer


def _starts_with_opener(paragraph: Paragraph | None) -> bool:
    if paragraph is None:
        return False
    text = paragraph.text
    return text[:1] in "“«‘" or (text[:1] in "\"'" and len(text) > 1 and not text[1].isspace())


def _single_role(text: str, i: int, lo: int, hi: int) -> str:
    """'open', 'close' or 'apostrophe' for a single quotation mark."""
    before, after = _neighbours(text, i, lo, hi)
    if before.isalnum() and after.isalnum():
        return "apostrophe"  # don't, Putin’s
    rest = text[i + 1 : min(hi, i + 40)]  # the word after the mark is all that matters (bounded: linear)
    if re.match(r"\d\d(?:s\b|\b(?!\d))", rest):
        return "apostrophe"  # '90s, ’20
    if RN_ROLL.fullmatch(text[i : i + 3]) or RN_ROLL.fullmatch(text[max(i - 2, 0) : i + 1]):
        return "apostrophe"  # rock 'n' roll
    word = re.match(r"[A-Za-z]+\b", rest)
    if (before.isspace() or i == lo) and word and word.group().lower() in ELISIONS:
        return "apostrophe"  # 'em, 'til
    opens_left = before.isspace() or before in OPEN_CONTEXT or before in DOUBLE_MARKS
    closes_right = after.isspace() or after in CLOSE_CONTEXT or after in DOUBLE_MARKS
    if text[i] == "‘" and not after.isspace():
        return "open"
    if opens_left and not closes_right:
        return "open"
    if closes_right and not opens_left:
        return "close"  # students' stays an apostrophe unless a quote is open
    return "apostrophe"


def _pair_singles(text: str, paragraph: Paragraph, result: ParagraphQuotes, end_free: bool) -> None:
    lo, hi = paragraph.start, paragraph.end
    stack: list[Mark] = []
    for m in re.finditer("[" + SINGLE_MARKS + "]", text[lo:hi]):
        i = lo + m.start()
        role = _single_role(text, i, lo, hi)
        if role == "open":
            stack.append(Mark(i, text[i]))
        elif role == "close" and stack:
            opener = stack.pop()
            if opener.char == "‘" or text[i] == "’":
                result.pairs.append((opener, Mark(i, text[i])))
    # A straight ' left open is as likely an elision as a quote: report only a curly ‘.
    leftover = [m for m in stack if m.char == "‘"]
    if leftover and end_free and leftover[-1] is stack[-1]:
        leftover.pop()
    result.unmatched_open.extend(leftover)


def _reopens_over_lines(text: str, pending: "ParagraphQuotes", paragraph: Paragraph) -> bool:
    """A quotation opened some lines back, run through quote-free lines, and reopened at the start
    of this line: the continued-quotes convention of a paragraph laid out one sentence per line
    (single line breaks only; blank-line paragraphs keep the strict rule)."""
    between = text[pending.paragraph.end : paragraph.start]
    return _starts_with_opener(paragraph) and between.count("\n") > 1 and PARAGRAPH_BREAK.search(between) is None


def analyse_paragraph_quotes(doc: Document) -> list[ParagraphQuotes]:
    """Pair every quotation mark of the document, paragraph by paragraph."""
    text = doc.text
    results: list[ParagraphQuotes] = []
    paragraphs = doc.paragraphs
    pending: ParagraphQuotes | None = None  # the paragraph whose final opener is still open
    gap = 0
    for index, paragraph in enumerate(paragraphs):
        lo, hi = paragraph.start, paragraph.end
        following = paragraphs[index + 1] if index + 1 < len(paragraphs) else None
        end_free = _starts_with_opener(following)
        doubles = _doubles(text, lo, hi)
        cost, actions = _solve(doubles, start_open=False, end_free=end_free)
        start_open = False
        if pending is not None and doubles:
            carried_cost, carried_actions = _solve(doubles, start_open=True, end_free=end_free)
            if carried_cost < cost + UNMATCHED:
                trial = ParagraphQuotes(paragraph)
                closer = _apply(trial, doubles, carried_actions, True, end_free)
                # A closer whose quotation starts mid-clause right after "added:" in this
                # paragraph ends a truncated quotation, not the one left open before.
                begin = None if closer is None else truncation_start(doc, trial, closer)
                if begin is None or not REPORTED_BEFORE.search(text, max(paragraph.start, begin - INTRODUCER_LOOKBACK), begin):
                    actions, start_open = carried_actions, True
        result = ParagraphQuotes(paragraph)
        closes_pending = _apply(result, doubles, actions, start_open, end_free) is not None
        if pending is not None and (closes_pending or _reopens_over_lines(text, pending, paragraph)):
            pending.unmatched_open.remove(pending.final_open)
            pending.final_open = None
        _pair_singles(text, paragraph, result, end_free)
        results.append(result)
        # One sentence per line splits quotations over lines, possibly with quote-free lines
        # between the opening and the closing one.
        if result.final_open is not None:
            pending, gap = result, 0
        elif doubles or gap >= MAX_CARRY_GAP:
            pending = None
        else:
            gap += 1
    return results


_CACHE: list[tuple[Document, list[ParagraphQuotes]]] = []


def quote_analysis(doc: Document) -> list[ParagraphQuotes]:
    """The pairing of ``doc``, computed once for all the quote rules (keyed by identity)."""
    if not _CACHE or _CACHE[0][0] is not doc:
        _CACHE[:] = [(doc, analyse_paragraph_quotes(doc))]
    return _CACHE[0][1]


def is_empty_quotation(text: str, opener: Mark, closer: Mark) -> bool:
    return not text[opener.pos + 1 : closer.pos].strip()


class _ClauseStarts:
    """Where quotations could begin in one paragraph, and where its double marks end, sorted once
    so that each closing mark's lookup is a binary search (linear time over the paragraph)."""

    def __init__(self, text: str, paragraph: Paragraph) -> None:
        lo, hi = paragraph.start, paragraph.end
        self.mark_ends = [m.end() for m in DOUBLE_MARK.finditer(text, lo, hi)]
        starts = {lo, *(s.start for s in paragraph.sentences), *introducer_ends(text, lo, hi)}
        self.starts = sorted(starts)




def truncation_start(doc: Document, quotes: ParagraphQuotes, closer: Mark) -> int | None:
    """Where a quotation that lost its opener starts, if it visibly starts mid-clause.

    The quotation's text runs back from the closing mark to the nearest place a quotation
    could begin: a sentence start, a colon, a reporting verb with a comma ("added,"), or
    the paragraph start, never before an earlier quotation mark. When that text begins
    with a lowercase word it is the tail of a clause whose beginning is missing.
    """
    if closer.pos not in quotes.truncations:  # Q001 and Q004 both ask, for every stray closer
        quotes.truncations[closer.pos] = _truncation_start(doc, quotes, closer)
    return quotes.truncations[closer.pos]


def _truncation_start(doc: Document, quotes: ParagraphQuotes, closer: Mark) -> int | None:
    text = doc.text
    paragraph = quotes.paragraph
    if quotes.clause_starts is None:
        quotes.clause_starts = _ClauseStarts(text, paragraph)
    index = quotes.clause_starts
    floor = paragraph.start
    at = bisect.bisect_right(index.mark_ends, closer.pos) - 1  # the marks that end at or before the closer
    if at >= 0:
        floor = index.mark_ends[at]
    content_end = closer.pos
    while content_end > floor and not text[content_end - 1].isalnum():
        content_end -= 1
    if content_end <= floor:
        return None
    last = bisect.bisect_left(index.starts, content_end) - 1
    if last < 0 or index.starts[last] < floor:
        return None
    begin = index.starts[last]
    while begin < content_end and not text[begin].isalnum():
        begin += 1
    return begin if text[begin].islower() else None
