"""The fast path for big, clean, structured files: Arrow checks in the client, one COPY straight into raw.

Why: the set-based path (all-text landing table, then INSERT … SELECT) costs a second pass and per-tuple
WAL; on a 1M-event day it ran at about a tenth of `psql \\copy` (benchmarks/bench_ingest.py). Here the
client parses blocks of the file with Arrow (C++), checks every contract rule vectorised, replaces
identifiers by their pseudonyms, and streams the block as CSV into `COPY raw.<table>` while the server
works on the previous block (two cores, two processes).

The fast path is optimistic and never decides about a bad row: the checks are conservative (a value
they cannot prove valid counts as suspicious), and at the first suspicious value, Arrow parse error,
COPY error or key clash in the unique index it gives up (`Unsuitable`); the caller rolls back and loads
the file through the exact set-based path, which quarantines row by row with file, line and rule.
Eligible: CSV files of sources without free text or vault columns whose header is exactly the contract.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg.copy import LibpqWriter

from ingestion import pii
from ingestion.contracts import Contract

BLOCK_BYTES = 8 << 20
FAR_OUTSIDE_DAYS = 7  # as ingestion/loader.py

_INT_RE = r"^\s*[+-]?\d{1,9}\s*$"  # at most 9 digits: never overflows integer (longer ones: exact path)
_NUM_RE = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?\s*$"
_TS_RE = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)
_DATE_RE = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


def _lapper(steps: dict[str, float]):
    """A lap function adding each step's seconds into `steps` (the file's report keeps them)."""

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        steps[name] = round(steps.get(name, 0.0) + now - since, 3)
        return now

    return lap


class Unsuitable(Exception):
    """The file cannot be proven clean by the fast path; load it through the exact path."""


def eligible(contract: Contract, header: list[str], fmt: str | None, replace_all: bool) -> bool:
    if fmt != "csv" or replace_all or contract.derived or contract.vault_table:
        return False
    if any(c.redact or c.vault for c in contract.columns):
        return False
    return sorted(header) == sorted(contract.names) and len(set(header)) == len(header)


def _check(pc, pa, contract: Contract, batch, now_limit) -> dict:
    """Raise Unsuitable at the first value a contract rule might reject; return the timestamp columns
    it parsed (as int64 microseconds), for the far-off count to reuse."""
    parsed = {}
    for c in contract.columns:
        col = batch.column(c.name)
        nulls = col.null_count
        if c.required and nulls:
            raise Unsuitable(f"{c.name}: empty required value")
        if nulls == len(col):
            continue
        if c.required and c.type == "text" and pc.any(pc.match_substring_regex(col, r"^\s+$")).as_py():
            raise Unsuitable(f"{c.name}: blank required value")
        if c.max_length and pc.max(pc.binary_length(col)).as_py() > c.max_length:
            raise Unsuitable(f"{c.name}: long value")
        if c.type == "integer" or c.type == "numeric":
            pattern = _INT_RE if c.type == "integer" else _NUM_RE
            if not pc.all(pc.match_substring_regex(col, pattern)).as_py():
                raise Unsuitable(f"{c.name}: not a {c.type}")
            if c.min is not None or c.max is not None:
                values = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
                if c.min is not None and pc.min(values).as_py() < c.min:
                    raise Unsuitable(f"{c.name}: below minimum")
                if c.max is not None and pc.max(values).as_py() > c.max:
                    raise Unsuitable(f"{c.name}: above maximum")
        elif c.type in ("timestamptz", "date"):
            if not pc.all(
                pc.match_substring_regex(col, _TS_RE if c.type == "timestamptz" else _DATE_RE)
            ).as_py():
                raise Unsuitable(f"{c.name}: not an ISO {c.type}")
            if c.not_future:
                try:  # also proves calendar validity (no 31 April) of what the regex let through
                    ts = pc.cast(col, pa.timestamp("us", tz="UTC"))
                except pa.ArrowInvalid as exc:
                    raise Unsuitable(f"{c.name}: {exc}") from exc
                # compared as integers: .as_py() on a zoned timestamp imports pandas (6 s here)
                parsed[c.name] = pc.cast(ts, pa.int64())
                if pc.max(parsed[c.name]).as_py() > now_limit:
                    raise Unsuitable(f"{c.name}: in the future")
        elif c.type == "boolean":
            raise Unsuitable("boolean columns take the exact path")
        if c.enum and not pc.all(pc.is_in(col, value_set=pa.array(list(c.enum)))).as_py():
            raise Unsuitable(f"{c.name}: value outside the enum")
    return parsed


def load(
    conn: psycopg.Connection,
    contract: Contract,
    path: str,
    header: list[str],
    file_id: int,
    partition_date: date | None,
    pii_key: str,
    steps: dict[str, float] | None = None,
    far: dict[str, int] | None = None,
) -> int:
    """COPY the file into raw under the contract; return the rows loaded. Raises Unsuitable to give up.

    `steps` receives the seconds of each step (read, check, pseudonymize, to_csv, copy_write, ...);
    `far["rows"]` the events whose time lies FAR_OUTSIDE_DAYS or more from the partition's day.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from ingestion.readers import open_binary

    key = pii_key.encode()
    known = _Pseudonyms(pa, key)
    # `eligible` excludes vault-only columns, so every contract column has a raw name here.
    raw_names = [c.raw_name or c.name for c in contract.columns]
    # _loaded_at comes from the column default now(): parsing a second timestamp per row costs COPY time
    cols = [*raw_names, "_file_id", "_line", "_partition_date", "_contract_version"]
    pdate = partition_date.isoformat() if partition_date else ""
    now_limit = int((datetime.now(UTC) + timedelta(hours=1)).timestamp() * 1_000_000)
    window = None
    if contract.event_time and partition_date:  # same bounds as the exact path (whole days apart)
        day0 = datetime(partition_date.year, partition_date.month, partition_date.day, tzinfo=UTC)
        window = (int((day0 - timedelta(days=FAR_OUTSIDE_DAYS - 1)).timestamp() * 1e6) - 1,
                  int((day0 + timedelta(days=FAR_OUTSIDE_DAYS)).timestamp() * 1e6))  # fmt: skip
    read = pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True)
    convert = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in header},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    write = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    rows = 0
    _lap = _lapper(steps if steps is not None else {})
    cur = conn.cursor()
    # The default writer queues data for a background thread without bound while the server is the slower
    # side; the plain writer blocks on the socket instead. Peak RSS is still not flat: on 1M events
    # (105 MB) the ingesting process peaked at ~365 MB from ~130 MB, and Arrow's streaming CSV reader
    # alone grew RSS 80 MB at 300k rows vs 155 MB at 1M (benchmarks/bench_ingest.py; open question).
    with (
        open_binary(path) as f,
        cur.copy(
            f"copy {contract.table} ({', '.join(cols)}) from stdin (format csv)", writer=LibpqWriter(cur)
        ) as cp,
    ):
        try:
            reader = pacsv.open_csv(f, read_options=read, convert_options=convert)
            t = time.perf_counter()
            for batch in reader:
                t = _lap("read", t)
                n = batch.num_rows
                if not n:
                    continue
                parsed = _check(pc, pa, contract, batch, now_limit)
                if far is not None and window is not None:
                    us = parsed.get(contract.event_time)
                    if us is None:  # an event time without not_future: parse it here
                        ts = batch.column(contract.event_time)
                        us = pc.cast(pc.cast(ts, pa.timestamp("us", tz="UTC")), pa.int64())
                    outside = pc.or_(pc.less_equal(us, window[0]), pc.greater_equal(us, window[1]))
                    far["rows"] = far.get("rows", 0) + int(pc.sum(outside).as_py() or 0)
                t = _lap("check", t)
                arrays = []
                for c in contract.columns:
                    col = batch.column(c.name)
                    if c.pseudonym:
                        col = known.apply(pc, col)
                    arrays.append(col)
                arrays += [
                    pa.array(np.full(n, file_id, dtype=np.int64)),
                    pa.array(np.arange(rows + 2, rows + n + 2, dtype=np.int64)),  # the header is line 1
                    pa.array(np.full(n, pdate), pa.string()),
                    pa.array(np.full(n, contract.version), pa.string()),
                ]
                buf = io.BytesIO()
                t = _lap("pseudonymize", t)
                pacsv.write_csv(pa.table(arrays, names=cols), buf, write_options=write)
                t = _lap("to_csv", t)
                cp.write(buf.getbuffer())
                t = _lap("copy_write", t)
                rows += n
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise Unsuitable(str(exc)) from exc
    t = _lap("copy_end", t)
    if len(known.originals):
        _vault_identifiers(conn, contract, known)
    _lap("vault", t)
    return rows


class _Pseudonyms:
    """Identifier → pseudonym for one file: each distinct value is hashed once; lookups stay in Arrow."""

    def __init__(self, pa, key: bytes) -> None:
        self.pa = pa
        self.key = key
        self.originals = pa.array([], pa.string())
        self.pseudonyms = pa.array([], pa.string())

    def apply(self, pc, col):
        pa = self.pa
        uniques = pc.unique(col).drop_null()
        new = uniques.filter(pc.invert(pc.is_in(uniques, value_set=self.originals)))
        if len(new):
            hashed = []
            for v in new.to_pylist():
                s = v.strip()
                hashed.append(
                    hmac.new(self.key, s.encode(), hashlib.sha256).hexdigest()[: pii.PSEUDONYM_CHARS]
                    if s
                    else None
                )
            self.originals = pa.concat_arrays([self.originals, new])
            self.pseudonyms = pa.concat_arrays([self.pseudonyms, pa.array(hashed, pa.string())])
        return pc.take(self.pseudonyms, pc.index_in(col, value_set=self.originals))

    def pairs(self):
        return zip(self.pseudonyms.to_pylist(), self.originals.to_pylist(), strict=True)


def _vault_identifiers(conn: psycopg.Connection, contract: Contract, known: _Pseudonyms) -> None:
    kinds = {c.identifier_kind or c.name for c in contract.columns if c.pseudonym}
    kind = kinds.pop() if len(kinds) == 1 else "identifier"
    conn.execute("create temp table _ids (pseudonym text, original text) on commit drop")
    with conn.cursor().copy("copy _ids from stdin") as cp:
        for p, original in known.pairs():
            if p is not None:
                cp.write_row((p, original.strip()))
    conn.execute(
        # anti-join first: most ids of a day are known already, and a probe is ~10x cheaper than a
        # conflicting insert (measured: 100k known ids 0.16 s vs 1.2 s)
        "insert into pii_vault.identifiers (kind, pseudonym, original) "
        "select distinct on (pseudonym) %(kind)s, pseudonym, original from _ids i where not exists "
        "(select 1 from pii_vault.identifiers v where v.kind = %(kind)s and v.pseudonym = i.pseudonym) "
        "on conflict do nothing",
        {"kind": kind},
    )
