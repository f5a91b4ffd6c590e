"""Privacy around every LLM call: prompts carry pseudonyms, skills and catalogue facts only.

Defence in depth, because catalogue texts and future context fields are not under our control:

1. before a call, every personal value the vault holds for this user (original identifiers, name and
   its parts, e-mail, phone; HRIS name and zip) is removed from the prompt by exact, case-insensitive
   match, then the ingestion redactor (`ingestion.pii.redact_python`: e-mails, URLs, phone numbers)
   runs over what is left;
2. after the call, the answer is scanned for the same values and patterns; an answer that carries any
   is refused (reason `privacy`) and replaced by the offline plan.
"""

from __future__ import annotations

import re
from collections import defaultdict

import psycopg

from ingestion.pii import redact_python

MIN_VALUE_CHARS = 3  # shorter values (initials) would erase ordinary words
REDACTED = "[REDACTED]"


def vault_values(conn: psycopg.Connection, user_keys: list[str]) -> dict[str, set[str]]:
    """The personal values the vault holds for each user (only the platform role may read the vault)."""
    out: dict[str, set[str]] = defaultdict(set)
    queries = [
        "select pseudonym, original from pii_vault.identifiers where pseudonym = any(%(u)s)",
        "select user_key, unnest(array[full_name, email, phone]) from pii_vault.resumes"
        " where user_key = any(%(u)s)",
        """
        select h.user_key, unnest(array[v.full_name, v.zip])
        from raw.hris_employees as h
        inner join pii_vault.hris_employees as v on v.employee_key = h.employee_key
        where h.user_key = any(%(u)s)
        """,
    ]
    for query in queries:
        for user_key, value in conn.execute(query, {"u": user_keys}).fetchall():
            if value:
                out[user_key].update(_variants(str(value)))
    return out


def _variants(value: str) -> set[str]:
    """The value itself and, for names, each part (a model may echo only a first name)."""
    value = value.strip()
    found = {value} if len(value) >= MIN_VALUE_CHARS else set()
    if " " in value and "@" not in value:
        found.update(p for p in re.split(r"[^\w'-]+", value) if len(p) >= MIN_VALUE_CHARS)
    return found


def scrub(text: str, values: set[str]) -> str:
    """The text without the user's vault values (exact, case-insensitive) and redactor patterns."""
    for value in sorted(values, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", REDACTED, text, flags=re.I)
    return redact_python(text)


def leaks(text: str, values: set[str]) -> list[str]:
    """What personal data an answer carries: vault values found, or patterns the redactor removes."""
    found = ["vault value" for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text, flags=re.I)]
    if redact_python(text) != text:
        found.append("contact pattern (e-mail, URL or phone)")
    return sorted(set(found))
