"""Fault injection for the ingestion fault suite: every fault is recorded exactly where it was put.

Faults go into the *fault day* (the second generated day, or the only one). Each `FaultRecord` names
the file (relative to the landing folder), the 1-based data-record numbers it touched in that file
(header not counted; empty for file-level faults) and the ids of the affected rows, so a test can
assert that ingestion quarantined, dropped or loaded exactly those rows.

| fault | where | what ingestion should see |
|---|---|---|
| malformed_rows | events.csv | rows with broken quoting (`"job_view"x`) or an extra unquoted field |
| bad_encoding | job_postings part-latin1.csv | a whole file in latin-1 (accented company names) |
| missing_column | job_postings part-missing-column.csv | file without the required `posted_at` |
| extra_column | job_postings postings.csv | additive column `remote_policy` on every row |
| type_errors | events.csv, resumes.jsonl | duration_s "12 sec", occurred_at "yesterday"; years "ten" |
| duplicates_within_file | events.csv | exact copies of earlier rows appended at the end |
| duplicates_across_files | events part-redelivery.csv | rows already delivered (previous day, or same) |
| late_events | events.csv | valid events whose occurred_at is 1–3 days before the folder's day |
| future_timestamps | events.csv | occurred_at a year after the folder's day |
| empty_file | events part-empty.csv | zero bytes |
| truncated_file | events part-truncated.csv | complete rows, then a last row cut mid-way (no newline) |
| huge_field | job_postings postings.csv | one description of 2 MB (over csv's default 128 KB field limit) |
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

FAULTS = (
    "malformed_rows", "bad_encoding", "missing_column", "extra_column", "type_errors",
    "duplicates_within_file", "duplicates_across_files", "late_events", "future_timestamps", "empty_file",
    "truncated_file", "huge_field",
)  # fmt: skip

# Fault row counts (small and fixed so tests can assert exact accounting).
N_ROWS = 5
N_MOVED_JOBS = 2


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault: what, where (file relative to landing), which records and ids."""

    fault: str
    source: str
    day: date
    path: str
    count: int
    records: tuple[int, ...] = ()
    ids: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class DayFiles:
    """The clean files written for the fault day, which the injectors modify."""

    landing: Path
    day: date
    events: Path | None = None
    prev_events: Path | None = None
    postings: Path | None = None
    resumes: Path | None = None
    records: list[FaultRecord] = field(default_factory=list)

    def rel(self, p: Path) -> str:
        return p.relative_to(self.landing).as_posix()


def check_faults(faults: tuple[str, ...]) -> None:
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown faults {unknown}: choose from {list(FAULTS)}")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _field(line: str, i: int) -> str:
    # Event lines never contain commas inside fields, so a plain split is exact here.
    return line.split(",")[i].strip('"')


def _set_field(line: str, i: int, value: str) -> str:
    parts = line.split(",")
    parts[i] = value
    return ",".join(parts)


def inject(faults: tuple[str, ...], files: DayFiles, seed: int) -> list[FaultRecord]:
    """Apply the requested faults to the fault day's files; returns what was injected where."""
    rng = np.random.default_rng([seed, 500])
    out: list[FaultRecord] = []
    d = files.day
    if files.events is not None:
        ev_dir = files.events.parent
        lines = _lines(files.events)
        header, body = lines[0], lines[1:]
        # Disjoint row sets per fault, drawn once, so no row carries two faults.
        wanted = [
            f for f in ("malformed_rows", "type_errors", "late_events", "future_timestamps") if f in faults
        ]
        pool = rng.permutation(np.arange(len(body) // 2))  # first half: the tail is used by truncated_file
        picks = {f: sorted(int(x) for x in pool[i * N_ROWS : (i + 1) * N_ROWS]) for i, f in enumerate(wanted)}
        rel = files.rel(files.events)
        if "malformed_rows" in faults:
            ids = []
            for n, r in enumerate(picks["malformed_rows"]):
                ids.append(_field(body[r], 0))
                if n % 2 == 0:  # text after a closing quote
                    body[r] = _set_field(body[r], 2, f'"{_field(body[r], 2)}"x')
                else:  # an unquoted comma: one field too many
                    body[r] = _set_field(body[r], 3, f"{_field(body[r], 3)},extra")
            out.append(FaultRecord("malformed_rows", "interaction_events", d, rel, N_ROWS,
                                   tuple(r + 1 for r in picks["malformed_rows"]), tuple(ids),
                                   "broken quoting / one field too many"))  # fmt: skip
        if "type_errors" in faults:
            ids = []
            for n, r in enumerate(picks["type_errors"]):
                ids.append(_field(body[r], 0))
                body[r] = (
                    _set_field(body[r], 6, '"12 sec"')
                    if n % 2 == 0
                    else _set_field(body[r], 5, '"yesterday"')
                )
            out.append(FaultRecord("type_errors", "interaction_events", d, rel, N_ROWS,
                                   tuple(r + 1 for r in picks["type_errors"]), tuple(ids),
                                   "duration_s '12 sec' or occurred_at 'yesterday'"))  # fmt: skip
        if "late_events" in faults:
            ids = []
            for n, r in enumerate(picks["late_events"]):
                ids.append(_field(body[r], 0))
                ts = _field(body[r], 5)
                early = (d - timedelta(days=1 + n % 3)).isoformat()
                body[r] = _set_field(body[r], 5, f'"{early}{ts[10:]}"')
            out.append(FaultRecord("late_events", "interaction_events", d, rel, N_ROWS,
                                   tuple(r + 1 for r in picks["late_events"]), tuple(ids),
                                   "occurred_at 1-3 days before the delivery folder's day"))  # fmt: skip
        if "future_timestamps" in faults:
            ids = []
            for r in picks["future_timestamps"]:
                ids.append(_field(body[r], 0))
                ts = _field(body[r], 5)
                body[r] = _set_field(body[r], 5, f'"{(d + timedelta(days=365)).isoformat()}{ts[10:]}"')
            out.append(FaultRecord("future_timestamps", "interaction_events", d, rel, N_ROWS,
                                   tuple(r + 1 for r in picks["future_timestamps"]), tuple(ids),
                                   "occurred_at one year after the delivery day"))  # fmt: skip
        if "truncated_file" in faults:
            tail = body[-(N_ROWS + 1) :]
            body = body[: -(N_ROWS + 1)]
            cut = tail[-1][: len(tail[-1]) // 2]
            path = ev_dir / "part-truncated.csv"
            path.write_text("\n".join([header, *tail[:-1], cut]), encoding="utf-8")
            note = f"{N_ROWS} complete rows, then record {N_ROWS + 1} cut mid-way"
            out.append(FaultRecord("truncated_file", "interaction_events", d, files.rel(path), 1,
                                   (N_ROWS + 1,), (_field(tail[-1], 0),), note))  # fmt: skip
        if "duplicates_within_file" in faults:
            src = sorted(int(x) for x in rng.choice(len(body) // 2, N_ROWS, replace=False))
            start = len(body)
            # Copies of untouched rows (not malformed etc.): pick from rows no other fault changed.
            touched = {r for rows in picks.values() for r in rows}
            src = [
                r if r not in touched else next(x for x in range(len(body)) if x not in touched) for r in src
            ]
            body += [body[r] for r in src]
            out.append(FaultRecord("duplicates_within_file", "interaction_events", d, rel, N_ROWS,
                                   tuple(range(start + 1, start + N_ROWS + 1)),
                                   tuple(_field(body[r], 0) for r in src),
                                   f"copies of records {[r + 1 for r in src]} appended"))  # fmt: skip
        _write_lines(files.events, [header, *body])
        if "duplicates_across_files" in faults:
            src_path = files.prev_events or files.events
            src_lines = _lines(src_path)
            rows = src_lines[1 : N_ROWS + 1]
            path = ev_dir / "part-redelivery.csv"
            _write_lines(path, [src_lines[0], *rows])
            note = f"re-delivery of records 1-{N_ROWS} of {files.rel(src_path)}"
            out.append(FaultRecord("duplicates_across_files", "interaction_events", d, files.rel(path),
                                   N_ROWS, tuple(range(1, N_ROWS + 1)), tuple(_field(x, 0) for x in rows),
                                   note))  # fmt: skip
        if "empty_file" in faults:
            path = ev_dir / "part-empty.csv"
            path.write_bytes(b"")
            out.append(
                FaultRecord("empty_file", "interaction_events", d, files.rel(path), 0, detail="zero bytes")
            )

    if files.postings is not None:
        out += _posting_faults(faults, files, rng)
    if files.resumes is not None and "type_errors" in faults:
        lines = _lines(files.resumes)
        picked = sorted(int(x) for x in rng.choice(len(lines), min(2, len(lines)), replace=False))
        ids = []
        for r in picked:
            rec = json.loads(lines[r])
            rec["years_experience"] = "ten"
            ids.append(rec["resume_id"])
            lines[r] = json.dumps(rec, ensure_ascii=False)
        _write_lines(files.resumes, lines)
        rel = files.rel(files.resumes)
        lines_1 = tuple(r + 1 for r in picked)
        out.append(FaultRecord("type_errors", "resumes", d, rel, len(picked),
                               lines_1, tuple(ids), "years_experience 'ten'"))  # fmt: skip
    return out


def _posting_faults(faults: tuple[str, ...], files: DayFiles, rng: np.random.Generator) -> list[FaultRecord]:
    import pandas as pd

    from generator.text import ACCENTED_COMPANIES

    out: list[FaultRecord] = []
    d = files.day
    path = files.postings
    assert path is not None, "posting faults need the day's postings file"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    folder = path.parent
    if "missing_column" in faults:
        moved, df = df.tail(N_MOVED_JOBS), df.iloc[:-N_MOVED_JOBS]
        p = folder / "part-missing-column.csv"
        moved.drop(columns=["posted_at"]).to_csv(p, index=False)
        out.append(FaultRecord("missing_column", "job_postings", d, files.rel(p), len(moved),
                               tuple(range(1, len(moved) + 1)), tuple(moved["job_id"]),
                               "required column posted_at absent"))  # fmt: skip
    if "bad_encoding" in faults:
        moved, df = df.tail(N_MOVED_JOBS).copy(), df.iloc[:-N_MOVED_JOBS]
        moved["company"] = [ACCENTED_COMPANIES[i % len(ACCENTED_COMPANIES)] for i in range(len(moved))]
        moved["description"] = [
            f"{c} — {t}" for c, t in zip(moved["company"], moved["description"], strict=True)
        ]
        p = folder / "part-latin1.csv"
        # The em dash is not in latin-1: replace it so the file really is valid latin-1, just not UTF-8.
        moved["description"] = moved["description"].str.replace("—", "-")
        moved.to_csv(p, index=False, encoding="latin-1")
        out.append(FaultRecord("bad_encoding", "job_postings", d, files.rel(p), len(moved),
                               tuple(range(1, len(moved) + 1)), tuple(moved["job_id"]),
                               "whole file encoded latin-1 (accented company names)"))  # fmt: skip
    rel = files.rel(path)
    if "huge_field" in faults:
        r = int(rng.integers(len(df)))
        df = df.copy()
        df.iloc[r, df.columns.get_loc("description")] = (df.iloc[r]["description"] + " ") * (
            2_000_000 // (len(df.iloc[r]["description"]) + 1) + 1
        )
        out.append(FaultRecord("huge_field", "job_postings", d, rel, 1, (r + 1,), (df.iloc[r]["job_id"],),
                               f"description of {len(df.iloc[r]['description']):,} characters"))  # fmt: skip
    if "extra_column" in faults:
        df = df.assign(remote_policy=np.where(df["location"].str.startswith("Remote"), "remote", "onsite"))
        out.append(FaultRecord("extra_column", "job_postings", d, rel, len(df), (), (),
                               "additive column remote_policy on every row"))  # fmt: skip
    df.to_csv(path, index=False)
    return out
