"""A labelled evaluation set for free-text PII redaction, built by code (deterministic, never committed).

Documents:
- every distinct real resume text of ../shared/data/resumes (Kaggle, already anonymised), twice, each
  time with a seeded fictitious identity placed the way real resumes place it: a name line and contact
  block on top, `Name:` / `Email:` fields, an Indeed-style header with a profile link without a scheme,
  a declaration with the name in brackets at the end, a sign-off, a mention inside the text;
- resumes rendered by the project's generator (tier S world), labelled from their own record fields.

Identities use the generator's name lists (international first and last names), not the lexicon the
redactor validates name-like tokens with, so the set does not grade the lexicon against itself.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESUMES = REPO.parent / "shared" / "data" / "resumes" / "UpdatedResumeDataSet.csv"


@dataclass
class Doc:
    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # labelled (start, end, kind)
    origin: str = "real"


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[tuple[int, int, str]] = []
        self.at = 0

    def add(self, text: str, kind: str | None = None) -> _Builder:
        if kind:
            self.spans.append((self.at, self.at + len(text), kind))
        self.parts.append(text)
        self.at += len(text)
        return self

    def doc(self, origin: str) -> Doc:
        return Doc("".join(self.parts), self.spans, origin)


def _identity(rnd: random.Random) -> dict[str, str]:
    from generator.text import FIRST_F, FIRST_M, LAST, STREET_KIND, STREETS

    first = rnd.choice(FIRST_F + FIRST_M)
    last = rnd.choice(LAST)
    middle = f" {rnd.choice('ABCDEFGHJKLMNPRST')}." if rnd.random() < 0.2 else ""
    slug = f"{first}-{last}".lower().replace("'", "")
    phone = rnd.choice([
        f"+1 ({rnd.randint(201, 989)}) {rnd.randint(200, 999)}-{rnd.randint(0, 9999):04d}",
        f"{rnd.randint(201, 989)}-{rnd.randint(200, 999)}-{rnd.randint(0, 9999):04d}",
        f"+91 {rnd.randint(70000, 99999)} {rnd.randint(10000, 99999)}",
        f"+44 20 {rnd.randint(1000, 9999)} {rnd.randint(1000, 9999)}",
        f"({rnd.randint(201, 989)}) {rnd.randint(200, 999)} {rnd.randint(0, 9999):04d}",
        f"{rnd.randint(7, 9)}{rnd.randint(100000000, 999999999)}",
    ])  # fmt: skip
    profile = rnd.choice([
        f"linkedin.com/in/{slug}-{rnd.randrange(16**6):06x}",
        f"https://www.linkedin.com/in/{slug}",
        f"www.linkedin.com/in/{slug}{rnd.randint(1, 99)}",
        f"github.com/{first.lower()}{last.lower().replace(chr(39), '')}",
        f"https://github.com/{slug}",
    ])  # fmt: skip
    city, state = rnd.choice([("Springfield", "IL"), ("Austin", "TX"), ("Portland", "OR"), ("Denver", "CO"),
                              ("Columbus", "OH"), ("Raleigh", "NC")])  # fmt: skip
    address = (f"{rnd.randint(1, 9899)} {rnd.choice(STREETS)} {rnd.choice(STREET_KIND)}, {city}, {state} "
               f"{rnd.randint(10000, 99999)}")  # fmt: skip
    email = rnd.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rnd.randint(1, 999)}"])
    domain = rnd.choice(["example.com", "mail.example.org", "example.net"])
    email = f"{email.lower().replace(chr(39), '')}@{domain}"
    return {"name": f"{first}{middle} {last}", "first": first, "last": last, "email": email, "phone": phone,
            "url": profile, "address": address, "indeed": f"indeed.com/r/{first}-{last}/{rnd.randrange(16**16):016x}"}  # fmt: skip  # noqa: E501


def _sentence_break(text: str, rnd: random.Random) -> int:
    cuts = [m.end() for m in re.finditer(r"\. ", text)]
    return rnd.choice(cuts) if cuts else len(text)


def _place(text: str, who: dict[str, str], style: int, rnd: random.Random) -> Doc:
    b = _Builder()
    nl = "\r\n" if "\r\n" in text else "\n"
    if style == 0:  # name line and contact block on top
        b.add(who["name"], "name").add(nl).add(who["email"], "email").add(" | ").add(who["phone"], "phone")
        b.add(nl).add(who["address"], "address").add(nl).add(who["url"], "url").add(nl + nl).add(text)
    elif style == 1:  # fields
        b.add("Name: ").add(who["name"], "name").add(nl + "Email: ").add(who["email"], "email")
        b.add(nl + "Mobile: ").add(who["phone"], "phone").add(nl + "Address: ").add(who["address"], "address")
        b.add(nl + nl).add(text).add(nl + nl + "LinkedIn: ").add(who["url"], "url")
    elif style == 2:  # Indeed export: name, title, link without a scheme; declaration at the end
        b.add(who["name"], "name").add(nl + "Software Engineer - Infosys" + nl + "Pune, Maharashtra" + nl)
        b.add("Email me on Indeed: ").add(who["indeed"], "url").add(nl + nl).add(text)
        b.add(nl + nl + "DECLARATION" + nl + "I, ").add(who["name"], "name")
        b.add(", hereby declare that the information above is true to the best of my knowledge." + nl)
        b.add("Place: Pune" + nl + "(").add(who["name"], "name").add(")")
    else:  # a mention inside the text, a sign-off with contact details
        cut = _sentence_break(text, rnd)
        b.add(text[:cut]).add("For references contact ").add(who["name"], "name").add(" at ")
        b.add(who["email"], "email").add(". ").add(text[cut:])
        b.add(nl + nl + "Regards," + nl).add(who["name"], "name").add(nl).add(who["phone"], "phone")
    return b.doc("real")


def real_documents(seed: int = 7) -> list[Doc]:
    import pandas as pd

    from ingestion.mappings import fix_mojibake

    frame = pd.read_csv(RESUMES, dtype=str).drop_duplicates()
    rnd = random.Random(seed)
    docs = []
    for i, text in enumerate(frame["Resume"].map(fix_mojibake)):
        for k in range(2):
            docs.append(_place(text, _identity(rnd), (2 * i + k) % 4, rnd))
    return docs


def generator_documents(n: int = 100, seed: int = 11) -> list[Doc]:
    """Generator resumes (tier S), each labelled by finding its record's personal values in its text."""
    from datetime import date

    import numpy as np

    from generator.text import Names, resume_records
    from generator.tiers import TIERS
    from generator.world import build_world

    world = build_world(TIERS["S"], seed, 1)
    records = resume_records(world, Names(world), np.arange(n), date(2026, 3, 1), seed)
    docs = []
    for r in records:
        text = r["resume_text"]
        spans = []
        for kind, value in (("name", r["full_name"]), ("email", r["email"]), ("phone", r["phone"])):
            spans += [(m.start(), m.end(), kind) for m in re.finditer(re.escape(value), text)]
        for kind, rx in (("url", r"https://www\.linkedin\.com/in/\S+"), ("address", r"^\d+ [^|\n]+?(?= \|)")):
            spans += [(m.start(), m.end(), kind) for m in re.finditer(rx, text, re.M)]
        docs.append(Doc(text, spans, "generator"))
    return docs


def build(seed: int = 7, generator_docs: int = 100) -> list[Doc]:
    return real_documents(seed) + generator_documents(generator_docs)


def evaluate(docs: list[Doc], redactor=None) -> dict:
    """Recall per kind (an entity counts when ≥ 90% of its characters are redacted) and the share of
    non-personal characters removed."""
    from ingestion.redact import KINDS, find_pii

    find = redactor or find_pii
    hit = dict.fromkeys(KINDS, 0)
    total = dict.fromkeys(KINDS, 0)
    removed_other = other = 0
    for d in docs:
        covered = bytearray(len(d.text))
        for s in find(d.text):
            covered[s.start : s.end] = b"\x01" * (s.end - s.start)
        labelled = bytearray(len(d.text))
        for start, end, kind in d.spans:
            labelled[start:end] = b"\x01" * (end - start)
            total[kind] += 1
            if sum(covered[start:end]) >= 0.9 * (end - start):
                hit[kind] += 1
        other += len(d.text) - sum(labelled)
        removed_other += sum(1 for c, lab in zip(covered, labelled, strict=True) if c and not lab)
    return {
        "documents": len(docs),
        "recall": {k: round(hit[k] / total[k], 4) if total[k] else None for k in KINDS},
        "entities": total,
        "removed_non_pii_share": round(removed_other / other, 4) if other else 0.0,
    }
