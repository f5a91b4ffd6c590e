"""Personal data in free text: find it and redact it, without any model download.

What a resume or an HR note carries about a person, and how each kind is found:

- **name**: the document's own name line (one of its first lines, shaped like a name), `Name:` fields,
  signatures (`Regards,` then a name), declarations (`I, First Last, hereby ...`), and name-like token
  pairs elsewhere whose first token is a known first name and second a known last name (the US Census
  1990 lists shipped by the `names` package: 5,494 first names, 88,799 last names). Every name found
  once (or given by the record, `person`) is then removed wherever it occurs in the document.
- **email**; **url**: web and profile links with or without a scheme (LinkedIn, GitHub, Indeed, ...),
  their ids included; **phone**: international and national forms; **address**: a house number, a street
  name and a street kind, with the city, state and ZIP that follow, never across a line break.

Pure functions over strings, measured on a labelled set by benchmarks/bench_pii.py (recall per kind, the
share of non-personal characters removed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

KINDS = ("name", "email", "url", "phone", "address")
MARKERS = {"name": "[NAME]", "email": "[EMAIL]", "url": "[URL]", "phone": "[PHONE]", "address": "[ADDRESS]"}


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    kind: str


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PROFILE_SITES = (
    r"linkedin\.com|github\.com|gitlab\.com|bitbucket\.org|indeed\.com|twitter\.com|x\.com|facebook\.com|"
    r"fb\.com|instagram\.com|medium\.com|stackoverflow\.com|kaggle\.com|behance\.net|dribbble\.com|"
    r"about\.me|angel\.co|wellfound\.com|xing\.com|naukri\.com|monster\.com|glassdoor\.com|t\.me|"
    r"youtube\.com|tiktok\.com|leetcode\.com|hackerrank\.com|codepen\.io"
)
URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'()]+|\b(?:[a-z0-9-]+\.)+[a-z]{2,6}/[^\s<>\"()]*"
    r"|\b[a-z0-9-]+\.(?:github\.io|wordpress\.com|blogspot\.com)\S*",
    re.I,
)
# A bare `domain/path` (no scheme) is a link only on these sites (profiles and their ids); elsewhere
# `D3.js/React` or `B.Sc./M.Sc.` are not links.
_PROFILE_RX = re.compile(rf"^(?:[a-z0-9-]+\.)*(?:{_PROFILE_SITES})/", re.I)


def _is_link(match: str) -> bool:
    low = match[:8].lower()
    if low.startswith(("http://", "https://", "www.")) or "/" not in match:
        return True
    return bool(_PROFILE_RX.match(match))


PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,5}){1,4}(?![\w])"
    r"|(?<![\w+])\+?\d{10,13}(?!\w)"
)
_STREET_KIND = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|"
    r"Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Marg|Nagar"
)
ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?(?:[ \t]+[A-Z][A-Za-z'.-]+){{1,4}}[ \t]+(?:{_STREET_KIND})\b\.?"
    r"(?:,?[ \t]*(?:Apt|Suite|Unit|Flat|#)[ \t]*[\w-]+)?"
    r"(?:,[ \t]*[A-Z][A-Za-z.' -]{1,30})?(?:,[ \t]*[A-Z]{2})?(?:[ \t]+\d{5}(?:-\d{4})?)?"
)
# A name token: Capitalized (O'Brien, Jean-Luc, McDonald) or ALL CAPS, or an initial.
_TOK = (
    r"(?:[A-Z]['’][A-Z][a-z]+|[A-Z][a-z]+(?:['’-][A-Z]?[a-z]+)*|[A-Z][a-z]*[A-Z][a-z]+"
    r"|[A-Z]{2,}(?:['’-][A-Z]+)*)"
)
_INITIAL = r"[A-Z]\.?"
NAME_SHAPE = re.compile(rf"^{_TOK}(?:[ \t]+(?:{_TOK}|{_INITIAL})){{1,3}}$")
NAME_FIELD = re.compile(
    r"(?im)^[ \t]*(?:full[ \t]+name|candidate(?:'s)?[ \t]+name|applicant[ \t]+name|name)[ \t]*[:\-–][ \t]*"
    r"([^\r\n]{2,60}?)[ \t]*\r?$"
)
SIGN_OFF = re.compile(
    r"(?im)^[ \t]*(?:(?:best|kind|warm|with)?[ \t]*regards|thanks(?:[ \t]+and[ \t]+regards)?|thank[ \t]+you|"
    r"thanking[ \t]+you|sincerely|yours[ \t]+(?:sincerely|faithfully|truly)|cheers)[ \t]*[,.]?[ \t]*"
    r"(?:\r?\n[ \t]*)*([^\r\n]{2,60}?)[ \t]*\r?$"
)
DECLARATION = re.compile(
    rf"\bI,?[ \t]+({_TOK}(?:[ \t]+(?:{_TOK}|{_INITIAL})){{1,3}}),?[ \t]+(?:hereby|do[ \t]+hereby)"
)
PAREN_NAME = re.compile(rf"\(({_TOK}(?:[ \t]+(?:{_TOK}|{_INITIAL})){{1,3}})\)[ \t]*\s*$")  # at the very end
WORD = re.compile(r"(?<![\w@/.-])[\w'’-]+(?![\w@])")
PAIR = re.compile(rf"\b({_TOK})(?:[ \t]+{_INITIAL})?[ \t]+({_TOK})\b")
# Words that head resume sections: a first line made of them is a title, not a name.
_HEADINGS = {
    "resume", "curriculum", "vitae", "cv", "profile", "summary", "skills", "skill", "education", "experience",
    "details", "objective", "contact", "personal", "information", "career", "professional", "technical",
    "key", "competencies", "projects", "project", "company", "work", "history", "about", "me", "declaration",
    "responsibilities", "achievements", "certifications", "languages", "hobbies", "interests", "references",
    "data", "science", "engineer", "developer", "manager", "analyst", "java", "python", "sql", "hr", "sales",
    "testing", "web", "designing", "operations", "mechanical", "civil", "electrical", "network", "security",
    "business", "advocate", "arts", "health", "fitness", "blockchain", "devops", "hadoop", "etl", "dotnet",
    "automation", "pmo", "sap", "database", "administrator", "consultant", "executive", "senior", "junior",
}  # fmt: skip
# Words that end organisation names ("Sophia College", "Spring Boot"), never a person's last name here.
_ORG = {
    "college", "school", "university", "institute", "academy", "bank", "services", "systems", "group",
    "technologies", "solutions", "hospital", "boot", "bazar", "limited", "ltd", "inc", "corporation", "net",
}  # fmt: skip
_CONTACT = re.compile(r"@|\d{3}|https?://|www\.|\.com/|indeed", re.I)
# Capitalized words that are also first names but, in resumes, mostly mean something else.
_NOT_FIRST = {
    "will", "may", "june", "april", "august", "mark", "grant", "hope", "joy", "major", "rich", "sales",
    "page", "rose", "star", "sky", "summer", "winter", "king", "young", "long", "gay", "art", "dot",
}  # fmt: skip


@cache
def _lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names), lower case, from the `names` package's Census 1990 lists."""
    import names

    folder = Path(names.__file__).resolve().parent

    def read(*files: str) -> frozenset[str]:
        out: set[str] = set()
        for f in files:
            for line in (folder / f).read_text().splitlines():
                if line.strip():
                    out.add(line.split()[0].lower())
        return frozenset(out)

    return read("dist.female.first", "dist.male.first"), read("dist.all.last")


def is_first_name(token: str) -> bool:
    return token.lower() in _lexicon()[0] and token.lower() not in _NOT_FIRST


def is_last_name(token: str) -> bool:
    return token.lower() in _lexicon()[1]


def _name_like(value: str) -> bool:
    value = value.strip().strip(",.")
    if not NAME_SHAPE.match(value) or len(value) > 50:
        return False
    tokens = [t.strip(".").lower() for t in value.split()]
    return not any(t in _HEADINGS for t in tokens)


def _own_names(text: str, person: str | None) -> list[str]:
    """Names the document gives for its own person: record name, name line, fields, signature."""
    found: list[str] = []
    if person and person.strip():
        found.append(person.strip())
    lines = [ln.strip() for ln in text.splitlines()[:8] if ln.strip()]
    for i, ln in enumerate(lines[:3]):
        # a name line on top: a known name token, or contact details right below it
        if _name_like(ln) and (
            any(is_first_name(t) or is_last_name(t) for t in ln.replace(".", " ").split() if len(t) > 1)
            or any(_CONTACT.search(x) for x in lines[i + 1 : i + 4])
        ):
            found.append(ln)
            break
    for rx in (NAME_FIELD, SIGN_OFF, DECLARATION, PAREN_NAME):
        for m in rx.finditer(text[-300:] if rx is PAREN_NAME else text):
            value = m.group(1).strip().strip(",.")
            if _name_like(value) or (rx is NAME_FIELD and value):
                found.append(value)
    return found


def _name_parts(names: list[str]) -> set[str]:
    parts: set[str] = set()
    for n in names:
        for p in re.split(r"[^\w'’-]+", n.replace(",", " ")):
            p = p.strip("'’-")
            if len(p) >= 2 and p.lower() not in _HEADINGS:
                parts.add(p)
    return parts


def find_pii(text: str, person: str | None = None) -> list[Span]:
    """Every personal span in `text`, merged where they overlap (the earlier kind in KINDS wins ties)."""
    if not text:
        return []
    spans: list[Span] = []
    for kind, rx in (("email", EMAIL), ("url", URL), ("address", ADDRESS), ("phone", PHONE)):
        for m in rx.finditer(text):
            if kind == "url" and not _is_link(m.group(0)):
                continue
            if kind == "phone" and sum(ch.isdigit() for ch in m.group(0)) < 7:
                continue  # years (2015-2018), versions, counts
            if kind == "phone" and re.fullmatch(r"\d{4}[ .-]\d{2,4}", m.group(0)):
                continue  # a year range or a date fragment
            spans.append(Span(m.start(), m.end(), kind))
    parts = _name_parts(_own_names(text, person))
    if parts:
        # the name's own spellings: as written or UPPER (never a lower-case word); one scan over the
        # document's words instead of a regex compiled per document (that was half the time)
        spellings = parts | {p.upper() for p in parts}
        for m in WORD.finditer(text):
            w = m.group(0)
            if w in spellings:
                spans.append(Span(m.start(), m.end(), "name"))
            elif "'" in w or "’" in w or "-" in w:  # O'Brien-Smith: the parts of a compound word
                for sub in re.finditer(r"[^'’-]+", w):
                    if sub.group(0) in spellings:
                        spans.append(Span(m.start() + sub.start(), m.start() + sub.end(), "name"))
    for m in PAIR.finditer(text):
        first, last = m.group(1), m.group(2)
        if first.isupper() != last.isupper():
            continue
        if is_first_name(first) and is_last_name(last) and last.lower() not in _HEADINGS | _ORG:
            spans.append(Span(m.start(), m.end(), "name"))
    return _merge(spans, text)


_BETWEEN_NAME_PARTS = re.compile(r"[ \t]*(?:[A-Z]\.?[ \t]*)?")


def _merge(spans: list[Span], text: str) -> list[Span]:
    """Overlapping spans become one; name parts with only blanks or an initial between them too."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if (out and s.kind == "name" and out[-1].kind == "name" and s.start >= out[-1].end
                and _BETWEEN_NAME_PARTS.fullmatch(text, out[-1].end, s.start)):  # fmt: skip
            out[-1] = Span(out[-1].start, s.end, "name")
            continue
        if out and s.start < out[-1].end:
            last = out[-1]
            if s.end > last.end:
                out[-1] = Span(last.start, s.end, last.kind)
            continue
        out.append(s)
    return out


def redact(text: str | None, person: str | None = None) -> str | None:
    """`text` with every personal span replaced by its marker ([NAME], [EMAIL], [URL], [PHONE], [ADDRESS])."""
    if text is None:
        return None
    spans = find_pii(text, person)
    if not spans:
        return text
    out, at = [], 0
    for s in spans:
        out.append(text[at : s.start])
        out.append(MARKERS[s.kind])
        at = s.end
    out.append(text[at:])
    return "".join(out)


def _redact_row(row: tuple[str | None, list[str | None]]) -> list[str | None]:
    person, values = row
    return [redact(v, person) if v else None for v in values]


def redact_rows(rows: list[tuple[str | None, list[str | None]]]) -> list[list[str | None]]:
    """Redact the values of many records, `(person, [values])` each.

    One process: a 2-process pool (spawn) took 10.9 s for 6,000 generator resumes vs 5.0 s in one
    process on this (shared, loaded) 2-core machine: pickling the texts costs more than it saves.
    """
    return [_redact_row(r) for r in rows]
