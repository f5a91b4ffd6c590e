"""Personal data: pseudonyms, column classification and the patterns that find PII in values.

Pseudonyms are HMAC-SHA256(key, trimmed identifier), hex, first 32 characters. PostgreSQL here has no
pgcrypto (the pgserver build ships none), so the loader computes the same HMAC in SQL from the builtin
`sha256()` and the two key pads (RFC 2104): H((K ^ opad) || H((K ^ ipad) || m)). `pseudonym()` is the
Python reference the tests compare against.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

PSEUDONYM_CHARS = 32

# Same patterns as ops.redact_pii in ingestion/ddl.sql (Python regex syntax).
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL_RE = re.compile(r"(https?://|www\.)[^\s<>\"']+|\b(linkedin|github|facebook|twitter)\.com/", re.I)
PHONE_RE = re.compile(r"(?<![\w])\+?(\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}(?![\w])")
DATE_RE = re.compile(r"^\s*(\d{1,2}[/.-]\d{1,2}[/.-](\d{2}|\d{4})|\d{4}-\d{2}-\d{2})\s*$")
PERSON_NAME_RE = re.compile(
    r"^\s*[A-Z][a-z'-]+,\s*[A-Z][a-z'-]+(\s+[A-Z]\.?)?\s*$|^\s*[A-Z][a-z'-]+\s+[A-Z][a-z'-]+\s*$"
)

# Column-name heuristics, most specific first.
_NAME_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"e[-_]?mail|phone|mobile|full_?name|first_?name|last_?name|surname|employee_name"
                r"|\bname$|birth|dob|ssn|passport|street|address", re.I), "direct"),
    (re.compile(r"race|ethnic|religio|disab|health|salary|income|pay_?rate|sex\b|gender|marital", re.I),
     "sensitive"),
    (re.compile(r"zip|postcode|postal|city|location|region|state$|age", re.I), "quasi"),
    (re.compile(r"(^|_)(user|employee|emp|person|member|student|manager|customer)_?(id|key|no|number)$", re.I),  # noqa: E501
     "identifier"),
    (re.compile(r"resume|cv|note|comment|text|description|bio", re.I), "free_text"),
]  # fmt: skip


def key_pads(key: str) -> tuple[bytes, bytes]:
    """The HMAC-SHA256 inner and outer pads of `key` (block size 64)."""
    k = key.encode()
    if len(k) > 64:
        k = hashlib.sha256(k).digest()
    k = k.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def pseudonym(value: str, key: str) -> str:
    """The pseudonym of one identifier (reference implementation of the SQL expression)."""
    return hmac.new(key.encode(), value.strip().encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_CHARS]


def pseudonym_sql(expr: str, pads_alias: str = "_k") -> str:
    """SQL for HMAC-SHA256(key, trim(expr)) hex-32, reading the pads from a one-row relation."""
    inner = f"sha256({pads_alias}.ipad || convert_to(trim({expr}), 'UTF8'))"
    return f"left(encode(sha256({pads_alias}.opad || {inner}), 'hex'), {PSEUDONYM_CHARS})"


def classify_name(column: str) -> str:
    """PII class suggested by a column's name alone (`none` when nothing matches)."""
    for pattern, cls in _NAME_RULES:
        if pattern.search(column):
            return cls
    return "none"


def classify_values(values: Iterable[str | None], threshold: float = 0.3) -> str:
    """PII class suggested by sampled values: e-mails, phone numbers, URLs, dates, person names.

    A column is flagged when at least `threshold` of its non-empty sampled values match one pattern
    (sampled values, so a column that is mostly e-mails is caught even when a few are not).
    """
    seen = [v for v in values if v is not None and str(v).strip()]
    if not seen:
        return "none"
    n = len(seen)

    def share(pred) -> float:
        return sum(1 for v in seen if pred(str(v))) / n

    if share(lambda v: EMAIL_RE.search(v) is not None) >= threshold:
        return "direct"
    if share(lambda v: PHONE_RE.fullmatch(v.strip()) is not None) >= threshold:
        return "direct"
    if share(lambda v: PERSON_NAME_RE.match(v) is not None) >= max(threshold, 0.6):
        return "direct"
    if share(lambda v: DATE_RE.match(v) is not None) >= max(threshold, 0.6):
        return "quasi"
    long_text = share(lambda v: len(v) > 200)
    if long_text >= threshold and share(lambda v: bool(EMAIL_RE.search(v) or PHONE_RE.search(v))) > 0:
        return "free_text"
    if share(lambda v: URL_RE.search(v) is not None) >= threshold:
        return "quasi"
    return "none"


def classify_column(name: str, values: Iterable[str | None], declared: str | None = None) -> str:
    """Final class of a column: the contract's word wins; otherwise the stricter of name and values."""
    if declared is not None:
        return declared
    order = ["none", "quasi", "free_text", "sensitive", "identifier", "direct"]
    by_name, by_values = classify_name(name), classify_values(values)
    return max(by_name, by_values, key=order.index)


def redact_python(text: str, person: str | None = None) -> str:
    """Python mirror of ops.redact_pii (used for quarantine previews and in tests)."""
    text = EMAIL_RE.sub("[EMAIL]", text)
    text = re.sub(r"(https?://|www\.)[^\s<>\"']+", "[URL]", text, flags=re.I)
    text = PHONE_RE.sub("[PHONE]", text)
    if person:
        for part in re.split(r"[^\w'-]+", person):
            if len(part) >= 2:
                text = re.sub(rf"\b{re.escape(part)}\b", "[NAME]", text, flags=re.I)
    return text
