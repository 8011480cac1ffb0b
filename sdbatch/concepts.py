"""What a column header means: concepts, field profiles, scores, and one assignment per table.

A header is read (:func:`read_header`) as the concepts its words name — vocabulary.toml
``[header.concepts]`` says that 营收, 营业收入 and 主营业务收入 are one concept, 规上 and 规模以上
another — plus its measure (an amount, a count, a ratio, a yes/no question: from its unit, else from
the concept that ends it, Chinese headers ending with what they count) and whether it states a
negation (无不良信用记录, 未发生重大事故).

A field of a rules file declares what identifies it (:class:`Profile`): groups of key concepts
(``concepts``: one group all present identifies the field), qualifiers that support it (scope,
period, subject), words that rule it out (``exclude``), and its aliases, exact header texts that
name it for sure.  :func:`score` weighs a header against a field; :func:`assign` gives the columns
of one table to the fields together, one column per field, the best total, and says how sure each
reading is (:class:`Assignment`): *sure*, *assumed* (used, with a finding that names it so that a
person can check) or a *candidate* (not used: the finding says which field the column may carry).

Nothing here knows a program: every word comes from the vocabulary or the rules file.
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sdbatch import settings
from sdbatch.text import (
    CLOSE_BRACKETS,
    OPEN_BRACKETS,
    header_key,
    header_key_full,
    squash,
    unit_of,
    vocabulary,
)

# Score scale (kept from the alias matcher so that callers can compare): an exact alias scores 100
# and more; a full group of key concepts 50 and more (STRONG); a partial reading less.
EXACT = 100
STRONG = 50
WEAK = 10  # a reading at least this good may be used when it is clearly better than any other
CANDIDATE = 7  # a reading at least this good is worth naming in a finding (可能是)
MARGIN = 8  # "clearly better": ahead of every competing reading by this much

_KEY_EACH = 4  # a full group: STRONG + this per concept in it
_PARTIAL_HIT = 10  # a partial group: per concept present ...
_PARTIAL_MISS = 5  # ... less per concept absent
_DISTINCTIVE = 2  # a concept identifying at most this many fields is telling on its own
_QUALIFIER_ONLY = 8  # a header with no key concept but a telling qualifier of the field
_QUALIFIER = 3
_QUALIFIERS_MAX = 12
_FAMILY_MATCH = 6
_FAMILY_CONFLICT = 40
_FOREIGN_KEY = 8  # a concept that identifies another field
_FOREIGN_OTHER = 2  # any other concept the field does not name
_FOREIGN_SCOPE = 30  # a scope the field does not name (高新 before 营业收入): another measure
_HEAD = 10  # the header ends with (is headed by) a concept of the field's group
_RESIDUE_MAX = 8  # characters no concept explains, one point each, at most this
_PARENT = 30  # a group title read alone counts this much less than the label under it

FAMILY_OF_TYPE = {"amount": "amount", "count": "count", "ratio": "ratio", "bool": "bool", "text": "text",
                  "city": "text", "choice": "text", "uscc": "text", "phone": "text", "email": "text",
                  "date": "text"}

_SPACE_NEAR_CJK = re.compile(r"\s+(?=[^a-z0-9\s])|(?<=[^a-z0-9\s])\s+")


# ----------------------------------------------------------------------------- the vocabulary
@dataclass(frozen=True)
class Lexicon:
    """The header words of vocabulary.toml, ready for matching."""

    forms: dict[str, tuple[str, str]]  # written form -> (kind, concept); kind: concept/question/negation/filler
    longest: int
    families: dict[str, str]  # concept -> family
    compositions: dict[str, frozenset[str]]  # concept -> the concepts it sums
    scopes: frozenset[str]  # concepts that narrow a measure (规上, 近三年 …)
    sizes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # first character -> form lengths, longest first

    def concept(self, word: str) -> str:
        """The concept a word of a rules file names (itself when the vocabulary does not know it)."""
        hit = self.forms.get(_prepare(word))
        return hit[1] if hit and hit[0] == "concept" else _prepare(word)


@cache
def lexicon() -> Lexicon:
    header = vocabulary()["header"]
    forms: dict[str, tuple[str, str]] = {}
    for word in header["markers"]["fillers"]:
        forms[_prepare(word)] = ("filler", "")
    for word in header["markers"]["negations"]:
        forms[_prepare(word)] = ("negation", "")
    for word in header["markers"]["questions"]:
        forms[_prepare(word)] = ("question", "")
    for concept, written in header["concepts"].items():
        for word in [concept, *written]:
            forms[_prepare(word)] = ("concept", concept)
    families = {c: family for family, concepts in header["families"].items() for c in concepts}
    compositions = {c: frozenset(parts) for c, parts in header.get("compositions", {}).items()}
    sizes: dict[str, set[int]] = {}
    for form in forms:
        if form:
            sizes.setdefault(form[0], set()).add(len(form))
    return Lexicon(forms, max(len(f) for f in forms), families, compositions, frozenset(header["scopes"]["concepts"]),
                   {ch: tuple(sorted(lengths, reverse=True)) for ch, lengths in sizes.items()})


def _prepare(text: Any) -> str:
    """NFKC, simplified, lower case; spaces dropped next to Chinese (集 群 名 称), kept between
    Latin words (Leading firms)."""
    raw = unicodedata.normalize("NFKC", str(text or "")).lower()
    raw = _SPACE_NEAR_CJK.sub("", raw.strip())
    raw = re.sub(r"\s+", " ", raw)
    simplified = squash(raw.replace(" ", "\x00")).replace("\x00", " ") if not raw.isascii() else raw
    return simplified


# ----------------------------------------------------------------------------- reading a header
@dataclass(frozen=True)
class Token:
    kind: str  # concept, question, negation, filler
    concept: str
    start: int
    end: int
    bracketed: bool


@dataclass(frozen=True)
class Reading:
    """What one header text says."""

    text: str
    key: str  # for exact aliases (header_key)
    full: str  # bracketed words kept (header_key_full), for literal words
    concepts: frozenset[str]
    order: tuple[str, ...]  # concepts outside brackets, in the order written
    family: str | None
    unit: str | None
    negated: bool
    question: bool
    residue: int


def tokens(text: str) -> list[Token]:
    """The header cut into known words, longest first, left to right."""
    lex = lexicon()
    out: list[Token] = []
    depth = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in OPEN_BRACKETS:
            depth += 1
            i += 1
            continue
        if ch in CLOSE_BRACKETS:
            depth = max(0, depth - 1)
            i += 1
            continue
        hit = None
        for size in lex.sizes.get(ch, ()):  # only the lengths of forms that start with this character
            if size > n - i:
                continue
            word = text[i:i + size]
            found = lex.forms.get(word)
            if found is None:
                continue
            if "a" <= ch <= "z" and i > 0 and "a" <= text[i - 1] <= "z":
                continue  # Latin words match whole: "no" is not inside "innovation"
            if "a" <= word[-1] <= "z" and i + size < n and "a" <= text[i + size] <= "z":
                continue
            hit = Token(found[0], found[1], i, i + size, depth > 0)
            break
        if hit is None:
            i += 1
            continue
        out.append(hit)
        i = hit.end
    return out


_READINGS: dict[str, Reading] = {}


def read_header(value: Any) -> Reading:
    """The concepts, measure and negation of one header text (cached by text)."""
    text = str(value if value is not None else "")
    cached = _READINGS.get(text)
    if cached is not None:
        return cached
    prepared = _prepare(text)
    toks = tokens(prepared)
    lex = lexicon()
    concepts = {t.concept for t in toks if t.kind == "concept"}
    for c in list(concepts):
        concepts |= lex.compositions.get(c, frozenset())
    outside = tuple(t.concept for t in toks if t.kind == "concept" and not t.bracketed)
    unit = unit_of(text)
    family = _unit_family(unit)
    question = any(t.kind == "question" for t in toks)
    if family is None and question:
        family = "bool"
    if family is None:
        heads = [c for c in outside if c in lex.families] or \
            [t.concept for t in toks if t.kind == "concept" and t.concept in lex.families]
        family = lex.families[heads[-1]] if heads else None
    mask = bytearray(len(prepared))
    for t in toks:
        mask[t.start:t.end] = b"\x01" * (t.end - t.start)
    residue = sum(1 for i, ch in enumerate(prepared) if not mask[i] and 0x3400 <= ord(ch) <= 0x9FFF)  # CJK
    negated = any(t.kind == "negation" for t in toks)
    reading = Reading(text, header_key(text), header_key_full(text), frozenset(concepts), outside, family, unit,
                      negated, question, residue)
    if len(_READINGS) > 50_000:  # headers are few; a hostile file must not grow this without end
        _READINGS.clear()
    _READINGS[text] = reading
    return reading


def _unit_family(unit: str | None) -> str | None:
    if unit is None:
        return None
    if unit == "%":
        return "ratio"
    if unit in vocabulary()["units"]["amounts"]:
        return "amount"
    if unit in vocabulary()["units"]["counts"]:
        return "count"
    return None


# ----------------------------------------------------------------------------- a field's profile
@dataclass(frozen=True)
class Profile:
    """What identifies one field, in concepts."""

    id: str
    aliases: frozenset[str]
    groups: tuple[frozenset[str], ...]
    qualifiers: frozenset[str]
    excluded: frozenset[str]  # concepts (or literal words) that rule the field out
    family: str | None
    parts: tuple[str, ...] = ()

    @property
    def identifying(self) -> frozenset[str]:
        return frozenset().union(*self.groups) if self.groups else frozenset()


@dataclass(frozen=True)
class Profiles:
    """Every field of one rules file, with what identifies which."""

    fields: dict[str, Profile]
    literal: frozenset[str]  # words of the rules file no concept knows: matched as text
    identifying: dict[str, frozenset[str]]  # concept -> the fields it identifies
    aliases: dict[str, frozenset[str]]  # alias key -> the fields it names
    qualifying: dict[str, frozenset[str]] = field(default_factory=dict)  # concept -> fields it qualifies

    def by_id(self, field_id: str) -> Profile | None:
        return self.fields.get(field_id)


_PROFILES: weakref.WeakKeyDictionary[Any, Profiles] = weakref.WeakKeyDictionary()


def profiles(rules: Any) -> Profiles:
    """The profiles of a rules object's fields (built once per rules object)."""
    ready = _PROFILES.get(rules)
    if ready is None:
        ready = _build_profiles(rules.fields.values())
        _PROFILES[rules] = ready
    return ready


def _build_profiles(fields: Iterable[Any]) -> Profiles:
    lex = lexicon()
    out = []
    literal: set[str] = set()

    def concept(word: str) -> str:
        c = lex.concept(word)
        if lex.forms.get(c, ("", ""))[0] != "concept":
            literal.add(c)
        return c

    for f in fields:
        groups = [frozenset(concept(w) for w in group if w) for group in (*f.concepts, *f.keywords)]
        out.append(Profile(
            id=f.id, aliases=frozenset(header_key(a) for a in (f.label, *f.aliases)),  # its label names it too
            groups=tuple(g for g in groups if g), qualifiers=frozenset(concept(w) for w in f.qualifiers),
            excluded=frozenset(concept(w) for w in f.exclude), family=FAMILY_OF_TYPE.get(f.type),
            parts=tuple(f.parts)))
    identifying: dict[str, set[str]] = {}
    aliases: dict[str, set[str]] = {}
    qualifying: dict[str, set[str]] = {}
    for p in out:
        for c in p.identifying:
            identifying.setdefault(c, set()).add(p.id)
        for a in p.aliases:
            aliases.setdefault(a, set()).add(p.id)
        for c in p.qualifiers:
            qualifying.setdefault(c, set()).add(p.id)
    return Profiles({p.id: p for p in out}, frozenset(literal),
                    {c: frozenset(ids) for c, ids in identifying.items()},
                    {a: frozenset(ids) for a, ids in aliases.items()},
                    {c: frozenset(ids) for c, ids in qualifying.items()})


def _concepts_of(reading: Reading, book: Profiles) -> frozenset[str]:
    """The header's concepts, with the rules file's own literal words found in its text."""
    extra = {w for w in book.literal if w and w in reading.full}
    return reading.concepts | extra if extra else reading.concepts


# ----------------------------------------------------------------------------- scoring
def score(reading: Reading, profile: Profile, book: Profiles) -> int:
    """How well a header names a field: >= EXACT an alias, >= STRONG a full group of key concepts,
    less a partial reading; 0 or less: not this field."""
    key = reading.key
    if not key:
        return 0
    if key in profile.aliases:
        return EXACT + len(key)
    have = _concepts_of(reading, book)
    best, group = _key_part(have, profile, book)
    if group is None and best <= 0:
        return 0
    if profile.excluded & have:
        # Ruled out (骨干 beside 领军): never read as this field, at most named as a possibility.
        return CANDIDATE if group is not None else 0
    total = best
    total += min(_QUALIFIERS_MAX, _QUALIFIER * len(profile.qualifiers & have))
    if profile.family and reading.family:
        total += _FAMILY_MATCH if profile.family == reading.family else -_FAMILY_CONFLICT
    own = profile.identifying | profile.qualifiers
    lex = lexicon()
    for c in have - own:
        if c in lex.scopes:
            total -= _FOREIGN_SCOPE
        elif c in book.identifying and profile.id not in book.identifying[c]:
            total -= _FOREIGN_KEY
        elif c in lex.families or c in book.identifying:
            total -= _FOREIGN_OTHER
    if group is not None:
        heads = [c for c in reading.order if c in book.identifying]
        if heads and heads[-1] in group:
            total += _HEAD
    total -= min(_RESIDUE_MAX, reading.residue)
    return total


def _key_part(have: frozenset[str], profile: Profile, book: Profiles) -> tuple[int, frozenset[str] | None]:
    """The best key group: (its score, the group when it is fully present).  Part of a group counts
    only through its distinctive concepts (identifying at most two fields): 企业 alone says nothing."""
    best, full = 0, None
    for group in profile.groups:
        hits = group & have
        if len(hits) == len(group):
            value = STRONG + _KEY_EACH * len(group)
            if full is None or value > best:
                best, full = value, group
        elif full is None:
            telling = sum(1 for c in hits if len(book.identifying.get(c, ())) <= _DISTINCTIVE)
            if telling:
                best = max(best, _PARTIAL_HIT * telling - _PARTIAL_MISS * (len(group) - len(hits)))
    if full is None and best <= 0:
        # No key concept at all, but a telling qualifier (平台数量 for 国家级/省级创新平台): a hint.
        hints = [c for c in profile.qualifiers & have
                 if c not in book.identifying and len(book.qualifying.get(c, ())) <= _DISTINCTIVE]
        best = _QUALIFIER_ONLY * len(hints)
    return best, full


_SCORES: weakref.WeakKeyDictionary[Any, dict[str, dict[str, int]]] = weakref.WeakKeyDictionary()


def field_scores(text: Any, rules: Any, *, aliases: bool = True) -> dict[str, int]:
    """Field -> score of one header text, for the fields it may name (score >= CANDIDATE); cached
    per rules object and text, so that a table's search for its header reads each text once.
    ``aliases=False``: by concepts only (a sub-label under a group title is not a whole header)."""
    key = str(text if text is not None else "")
    if len(key) > settings.MAX_HEADER_CHARS:
        return {}  # a paragraph, not a header (and reading it would cost in proportion to its length)
    cache = _SCORES.setdefault(rules, {})
    slot = key if aliases else "\x00" + key
    found = cache.get(slot)
    if found is not None:
        return found
    reading = read_header(key)
    book = profiles(rules)
    if not aliases:
        reading = Reading(reading.text, "\x00", reading.full, reading.concepts, reading.order, reading.family,
                          reading.unit, reading.negated, reading.question, reading.residue)
    have = _concepts_of(reading, book)
    ids = set(book.aliases.get(reading.key, ()))
    for c in have:
        ids.update(book.identifying.get(c, ()))
        if len(book.qualifying.get(c, ())) <= _DISTINCTIVE:
            ids.update(book.qualifying.get(c, ()))
    found = {}
    for fid in sorted(ids):
        value = score(reading, book.fields[fid], book)
        if value >= CANDIDATE:
            found[fid] = value
    if len(cache) > 50_000:
        cache.clear()
    cache[slot] = found
    return found


def best_field(text: Any, rules: Any) -> tuple[str | None, int]:
    """The field one header names on its own (no other column considered), and its score."""
    found = field_scores(text, rules)
    if not found:
        return None, 0
    fid, value = max(found.items(), key=lambda kv: (kv[1], kv[0]))
    return (fid, value) if value >= WEAK else (None, 0)


def scores(texts: Sequence[str], rules: Any, *, grouped: bool = False) -> tuple[dict[str, int], dict[str, int]]:
    """For one column's header texts (the most specific label first: a sub-header, then the joined
    labels, then group titles): field -> best score, and field -> index of the text that gave it.
    The joined labels count a little less than the sub-header, a group title alone much less (it
    names the column only when nothing below it does).  ``grouped``: the first label sits under a
    group title, so neither it nor the title is a whole header: they name a field by their concepts,
    not as an alias (名称 under 申报主体 is the applicant's name); the joined labels may be one."""
    best: dict[str, int] = {}
    where: dict[str, int] = {}
    for i, text in enumerate(texts):
        for fid, value in field_scores(text, rules, aliases=not grouped or i == 1).items():
            value -= 2 * i if i < 2 else _PARENT + i
            if value >= CANDIDATE and value > best.get(fid, -1):
                best[fid], where[fid] = value, i
    if grouped:
        # A label that names a field on its own beats what its group title adds: 专利 under
        # 近三年科技奖励及知识产权 is the patents column, not the total (合计 under it is the total).
        own = max((v for f, v in best.items() if where[f] == 0), default=0)
        if own >= STRONG:
            for fid, value in best.items():
                if where[fid] != 0 and value > own - MARGIN:
                    best[fid] = own - MARGIN  # still a rival the assignment sees, clearly behind
    return best, where


# ----------------------------------------------------------------------------- the assignment
@dataclass
class Assignment:
    """How one column is read."""

    column: int
    field: str | None  # the field it carries (None: not used)
    score: int = 0
    level: str = "none"  # sure, assumed, candidate, duplicate, none
    rivals: tuple[str, ...] = ()  # other fields it may carry (assumed/candidate)
    duplicate_of: int | None = None


@dataclass
class Board:
    """The score of every column for every field, as one matrix."""

    columns: list[int]
    table: dict[int, dict[str, int]] = field(default_factory=dict)  # column -> field -> score


def assign(board: Board) -> dict[int, Assignment]:
    """One field per column and one column per field, maximising the total score; then how sure
    each reading is.  A column whose best reading is an exact alias of a field already taken by
    an equally sure column is a duplicate."""
    columns = [c for c in board.columns if board.table.get(c)]
    fields = sorted({f for c in columns for f in board.table[c]})
    pairs = _max_assignment([[board.table[c].get(f, 0) for f in fields] for c in columns]) if columns else []
    chosen: dict[int, str] = {columns[i]: fields[j] for i, j in pairs if board.table[columns[i]].get(fields[j], 0) > 0}
    holder = {f: c for c, f in chosen.items()}
    out: dict[int, Assignment] = {}
    for c in board.columns:
        row = board.table.get(c, {})
        f = chosen.get(c)
        if f is None:
            out[c] = _unassigned(c, row, holder, board)
            continue
        s = row[f]
        rivals = _rivals(c, f, board, holder)
        top = max([0, *(row[r] for r in rivals),
                   *(board.table[o].get(f, 0) for o in columns if o != c and _free(o, f, board, holder))])
        if s >= EXACT or (s >= STRONG and s - top >= MARGIN):
            out[c] = Assignment(c, f, s, "sure")
        elif s >= WEAK and s - top >= MARGIN:
            out[c] = Assignment(c, f, s, "assumed", tuple(rivals))
        else:
            close = tuple(r for r in rivals if row[r] >= s - MARGIN)
            out[c] = Assignment(c, None, s, "candidate", (f, *close))
    return out


def _free(other: int, f: str, board: Board, holder: dict[str, int]) -> bool:
    """Whether column ``other`` competes for field ``f``: it is not held by a better reading."""
    mine = board.table[other]
    held = next((g for g, col in holder.items() if col == other), None)
    return held is None or mine.get(held, 0) < mine.get(f, 0)


def _rivals(c: int, f: str, board: Board, holder: dict[str, int]) -> list[str]:
    """Other fields column ``c`` might carry: not held by a column that reads them better."""
    row = board.table[c]
    out = []
    for g, value in sorted(row.items(), key=lambda kv: -kv[1]):
        if g == f or value < CANDIDATE:
            continue
        owner = holder.get(g)
        if owner is not None and board.table[owner].get(g, 0) >= value:
            continue
        out.append(g)
    return out


def _unassigned(c: int, row: dict[str, int], holder: dict[str, int], board: Board) -> Assignment:
    if not row:
        return Assignment(c, None)
    f, s = max(row.items(), key=lambda kv: (kv[1], kv[0]))
    owner = holder.get(f)
    if owner is not None and s >= STRONG and board.table[owner].get(f, 0) >= STRONG:
        return Assignment(c, None, s, "duplicate", duplicate_of=owner)
    free = [g for g, v in sorted(row.items(), key=lambda kv: -kv[1]) if g not in holder and v >= CANDIDATE]
    if free:
        return Assignment(c, None, row[free[0]], "candidate", tuple(free[:3]))
    return Assignment(c, None, s, "none")


def _max_assignment(weights: list[list[int]]) -> list[tuple[int, int]]:
    """Rows to columns, one each, maximising the total weight (Hungarian method, O(n²m)).

    A table has a few dozen columns and fields: a small exact solver is enough (scipy's
    linear_sum_assignment would bring a large dependency for one call)."""
    n = len(weights)
    m = len(weights[0]) if n else 0
    if not n or not m:
        return []
    transpose = n > m
    if transpose:
        weights = [list(col) for col in zip(*weights, strict=True)]
        n, m = m, n
    top = max(max(r) for r in weights)
    cost = [[top - w for w in r] for r in weights]  # minimise cost = maximise weight
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    p = [0] * (m + 1)
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    pairs = [(p[j] - 1, j - 1) for j in range(1, m + 1) if p[j]]
    return [(j, i) for i, j in pairs] if transpose else pairs


# ----------------------------------------------------------------------------- parts of a total
def parts_named(reading: Reading, profile: Profile, rules: Any) -> tuple[str, ...]:
    """The parts of a total field (``parts``) a header names (知识产权 names 专利 and 软著)."""
    book = profiles(rules)
    have = _concepts_of(reading, book)
    named: list[str] = []
    for part in profile.parts:
        p = book.by_id(part)
        if p is not None and any(g <= have for g in p.groups):
            named.append(part)
    return tuple(named)
