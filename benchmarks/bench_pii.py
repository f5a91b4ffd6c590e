"""Free-text PII redaction on a labelled set: recall per kind and the share of non-personal text removed.

The set (benchmarks/pii_eval.py) is built by code: every distinct real resume text of
../shared/data/resumes twice, with seeded identities placed the way real resumes place them, plus
generator resumes. The reference, measured in the same run on the same documents, is the previous
redaction (the regular expressions of ingestion/pii.py that ops.redact_pii mirrors, names only when a
name column is supplied: here none). Goals: recall >= 0.95 for every kind, <= 2% non-personal
characters removed. Prints one JSON line.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import pii_eval


def reference_spans(text: str):
    """What the regex-only redaction removed: e-mails, URLs with a scheme or www., phones, addresses."""
    from ingestion import pii
    from ingestion.redact import Span

    spans = []
    for kind, rx in (
        ("email", pii.EMAIL_RE),
        (
            "url",
            re.compile(
                r"(https?://|www\.)[^\s<>\"']+|\b(linkedin|github|facebook|twitter)\.com/[^\s<>\"']*", re.I
            ),
        ),
        ("phone", pii.PHONE_RE),
        (
            "address",
            re.compile(
                r"\b\d{1,5}\s+([A-Z][A-Za-z]+\s+){1,3}(Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl)\b\.?"
            ),
        ),
    ):
        spans += [Span(m.start(), m.end(), kind) for m in rx.finditer(text)]
    return spans


def main() -> None:
    began = time.perf_counter()
    docs = pii_eval.build()
    build_s = time.perf_counter() - began
    t = time.perf_counter()
    result = pii_eval.evaluate(docs)
    seconds = time.perf_counter() - t
    reference = pii_eval.evaluate(docs, redactor=reference_spans)
    chars = sum(len(d.text) for d in docs)
    print(json.dumps({
        "bench": "pii",
        "documents": result["documents"],
        "real_documents": sum(d.origin == "real" for d in docs),
        "generator_documents": sum(d.origin == "generator" for d in docs),
        "entities": result["entities"],
        "recall": result["recall"],
        "removed_non_pii_share": result["removed_non_pii_share"],
        "reference_recall": reference["recall"],
        "reference_removed_non_pii_share": reference["removed_non_pii_share"],
        "chars": chars,
        "seconds": round(seconds, 2),
        "chars_per_s": round(chars / seconds),
        "build_seconds": round(build_s, 2),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
