"""The fast path for big, clean, structured files: Arrow checks in the client, one binary COPY into raw.

Why: the set-based path (all-text landing table, then INSERT … SELECT) costs a second pass and per-tuple
WAL; on a 1M-event day it ran at about a tenth of `psql \\copy` (benchmarks/bench_ingest.py). Here a
worker thread parses blocks of the file with Arrow (C++), checks every contract rule vectorised,
replaces identifiers by their pseudonyms and encodes the block in PostgreSQL's binary COPY format
(core/pgbinary.py: the server does not parse the values a second time), while the main thread
streams the previous block into `COPY raw.<table>` (two cores: client and server work overlap).

Exactly-once stays with raw's unique key index: a key already loaded (any earlier day) or repeated in
the file fails the COPY, and the exact path then quarantines each duplicate with its reason. Measured
on one M-tier day (1.02M events, 2 shared cores, server side only): the index costs ~0.6 s of server
CPU and 82 MB of WAL per day (149 MB without it); a hashed bigint or uuid key, day partitions with
per-partition keys and a staging table with `on conflict` were not cheaper (ingestion/README.md).

The fast path is optimistic and never decides about a bad row: the checks are conservative (a value
they cannot prove valid counts as suspicious), and at the first suspicious value, Arrow parse error,
COPY error or key clash in the unique index it gives up (`Unsuitable`); the caller rolls back and loads
the file through the exact set-based path, which quarantines row by row with file, line and rule.
Eligible: CSV files of sources without free text or vault columns whose header is exactly the contract.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import time
from datetime import UTC, date, datetime, timedelta

import psycopg

from ingestion import pii
from ingestion.contracts import Contract

BLOCK_BYTES = 8 << 20
PG_EPOCH_ORDINAL = date(2000, 1, 1).toordinal()
FAR_OUTSIDE_DAYS = 7  # as ingestion/loader.py

_NUM_RE = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?\s*$"
# Arrow parses what these let through and the binary COPY sends Arrow's value, so they admit only what
# PostgreSQL reads the same way: no year 0000 (Arrow: 1 BC, PostgreSQL: out of range) and UTC offsets
# up to 15:59 (PostgreSQL's limit; Arrow takes +23:00). tests/test_pgbinary.py compares both.
_YEAR = r"(\d{3}[1-9]|\d{2}[1-9]\d|\d[1-9]\d{2}|[1-9]\d{3})"
_TS_RE = (
    rf"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?(Z|[+-](0\d|1[0-5])(:?[0-5]\d)?)?$"
)
_DATE_RE = rf"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"


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
    """Raise Unsuitable at the first value a contract rule might reject; return the typed values of
    the integer, timestamp and date columns (numpy arrays, None where a value is null): the binary
    COPY sends them as parsed here, and the far-off count reuses the event time."""
    parsed = {}
    for c in contract.columns:
        col = batch.column(c.name)
        nulls = col.null_count
        if c.required and nulls:
            raise Unsuitable(f"{c.name}: empty required value")
        if c.type == "boolean":
            raise Unsuitable("boolean columns take the exact path")
        if nulls == len(col):
            continue
        # blank = only whitespace (a superset of the exact path's spaces-only rule: never looser); an
        # enum without blank members proves it already
        blank_possible = not c.enum or any(not e.strip() for e in c.enum)
        if c.required and c.type == "text" and blank_possible and pc.any(pc.utf8_is_space(col)).as_py():
            raise Unsuitable(f"{c.name}: blank required value")
        if c.max_length and pc.max(pc.binary_length(col)).as_py() > c.max_length:
            raise Unsuitable(f"{c.name}: long value")
        if c.type == "integer":
            try:  # Arrow's integer parse is stricter than PostgreSQL's (no blanks, no '+'): never looser
                values = pc.cast(col, pa.int32())
            except pa.ArrowInvalid as exc:
                raise Unsuitable(f"{c.name}: not an integer the fast path can read ({exc})") from exc
            parsed[c.name] = values
            if c.min is not None and pc.min(values).as_py() < c.min:
                raise Unsuitable(f"{c.name}: below minimum")
            if c.max is not None and pc.max(values).as_py() > c.max:
                raise Unsuitable(f"{c.name}: above maximum")
        elif c.type == "numeric":
            if not pc.all(pc.match_substring_regex(col, _NUM_RE)).as_py():
                raise Unsuitable(f"{c.name}: not a numeric")
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
            try:  # also proves calendar validity (no 31 April) of what the regex let through
                typed = pc.cast(col, pa.timestamp("us", tz="UTC") if c.type == "timestamptz" else pa.date32())
            except pa.ArrowInvalid as exc:
                raise Unsuitable(f"{c.name}: {exc}") from exc
            # compared as integers: .as_py() on a zoned timestamp imports pandas (6 s here)
            parsed[c.name] = pc.cast(typed, pa.int64() if c.type == "timestamptz" else pa.int32())
            if c.not_future:
                limit = now_limit if c.type == "timestamptz" else now_limit // 86_400_000_000
                if pc.max(parsed[c.name]).as_py() > limit:
                    raise Unsuitable(f"{c.name}: in the future")
        if c.enum and not pc.all(pc.is_in(col, value_set=pa.array(list(c.enum)))).as_py():
            raise Unsuitable(f"{c.name}: value outside the enum")
    return parsed


# The raw column types the binary encoding produces, per contract type (binary COPY has no casts).
RAW_TYPES = {"text": "text", "integer": "integer", "numeric": "numeric",
             "timestamptz": "timestamp with time zone", "date": "date"}  # fmt: skip
LOAD_TYPES = {
    "_file_id": "bigint",
    "_line": "integer",
    "_partition_date": "date",
    "_contract_version": "text",
}
# Blocks encoded ahead of the server (each ~13 MB for 8 MB of CSV): the client checks and encodes
# block k+1 while the server inserts block k.
BLOCKS_AHEAD = 2


def _raw_types_match(conn: psycopg.Connection, contract: Contract, cols: list[str], want: list[str]) -> None:
    """Unsuitable unless every loaded raw column has the type its binary encoding is for."""
    schema, table = contract.table.split(".")
    got: dict[str, str] = dict(conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a "
        "join pg_class t on t.oid = a.attrelid join pg_namespace n on n.oid = t.relnamespace "
        "where n.nspname = %s and t.relname = %s and a.attnum > 0 and not a.attisdropped",
        (schema, table),
    ).fetchall())  # fmt: skip
    for col, typ in zip(cols, want, strict=True):
        if got.get(col) != typ:
            raise Unsuitable(f"{contract.table}.{col} is {got.get(col)}, the binary encoding sends {typ}")


def ahead(items, depth: int = BLOCKS_AHEAD):
    """Iterate `items` computed on a worker thread up to `depth` items ahead of the consumer.

    The fast path's blocks are parsed, checked and encoded by Arrow (which releases the GIL) while the
    main thread waits for the server to take the previous block: the two overlap on two cores. The
    connection stays on the main thread. An exception of the producer is raised here; a consumer that
    stops early stops the producer.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((None, item)):
                    return
            put((None, done))
        except BaseException as exc:  # handed to the consumer, raised there
            put((exc, None))

    worker = threading.Thread(target=produce, name="kairoo-fastpath-encode", daemon=True)
    worker.start()
    try:
        while True:
            exc, item = q.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        worker.join()


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

    `steps` receives the seconds of each step (read, check, pseudonymize, encode, copy_write, ...);
    `far["rows"]` the events whose time lies FAR_OUTSIDE_DAYS or more from the partition's day.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from core import pgbinary
    from ingestion.readers import open_binary

    key = pii_key.encode()
    known = _Pseudonyms(pa, key)
    # `eligible` excludes vault-only columns, so every contract column has a raw name here.
    raw_names = [c.raw_name or c.name for c in contract.columns]
    # _loaded_at comes from the column default now(): one timestamp per row less on the wire
    cols = [*raw_names, *LOAD_TYPES]
    _raw_types_match(
        conn, contract, cols, [RAW_TYPES[c.type] for c in contract.columns] + list(LOAD_TYPES.values())
    )
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
    file_field = struct.pack(">q", file_id)
    pdate_field = (
        None if partition_date is None else struct.pack(">i", partition_date.toordinal() - PG_EPOCH_ORDINAL)
    )
    version_field = contract.version.encode()
    numeric_cache: dict[str, dict[str, bytes]] = {}
    _lap = _lapper(steps if steps is not None else {})
    cur = conn.cursor()

    def blocks(f):
        """The file's blocks, checked, pseudonymized and encoded (runs on the worker thread)."""
        rows = 0
        reader = pacsv.open_csv(f, read_options=read, convert_options=convert)
        t = time.perf_counter()
        for batch in reader:
            t = _lap("read", t)
            n = batch.num_rows
            if not n:
                continue
            parsed = _check(pc, pa, contract, batch, now_limit)
            if far is not None and window is not None and contract.event_time in parsed:
                us = parsed[contract.event_time]
                outside = pc.or_(pc.less_equal(us, window[0]), pc.greater_equal(us, window[1]))
                far["rows"] = far.get("rows", 0) + int(pc.sum(outside).as_py() or 0)
            t = _lap("check", t)
            fields = []
            for c in contract.columns:
                col = batch.column(c.name)
                if c.pseudonym:
                    fields.append(pgbinary.text(known.apply(pc, col)))
                elif c.type == "text":
                    fields.append(pgbinary.text(col))
                elif c.type == "numeric":
                    fields.append(pgbinary.numeric(col, numeric_cache.setdefault(c.name, {})))
                elif c.name not in parsed:  # every value null
                    fields.append(pgbinary.constant(None, n))
                else:
                    typed = parsed[c.name]
                    nulls = typed.is_null().to_numpy(zero_copy_only=False) if typed.null_count else None
                    values = typed.fill_null(0).to_numpy()
                    encode = {"integer": pgbinary.int4, "timestamptz": pgbinary.timestamptz,
                              "date": pgbinary.date}[c.type]  # fmt: skip
                    fields.append(encode(values, nulls))
            t = _lap("pseudonymize", t)
            fields += [
                pgbinary.constant(file_field, n),
                pgbinary.int4(np.arange(rows + 2, rows + n + 2, dtype=np.int32)),  # the header is line 1
                pgbinary.constant(pdate_field, n),
                pgbinary.constant(version_field, n),
            ]
            rows += n
            block = pgbinary.rows(n, fields)
            t = _lap("encode", t)
            yield n, block
            t = time.perf_counter()  # waiting for room in the queue is the server's time, not ours

    rows = 0
    with (
        open_binary(path) as f,
        cur.copy(f"copy {contract.table} ({', '.join(cols)}) from stdin (format binary)") as cp,
    ):
        try:
            cp.write(pgbinary.SIGNATURE)
            t = time.perf_counter()
            for n, block in ahead(blocks(f)):
                t = _lap("wait_encode", t)
                cp.write(memoryview(block))
                t = _lap("copy_write", t)
                rows += n
            cp.write(pgbinary.TRAILER)
        except (pa.ArrowInvalid, UnicodeDecodeError, pgbinary.NotEncodable) as exc:
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
        self.vaulted = pa.array([], pa.string())  # the original as hashed (stripped), for the vault

    def apply(self, pc, col):
        pa = self.pa
        uniques = pc.unique(col).drop_null()
        new = uniques.filter(pc.invert(pc.is_in(uniques, value_set=self.originals)))
        if len(new):
            hashed, stripped = [], []
            for v in new.to_pylist():
                s = v.strip()
                stripped.append(s)
                hashed.append(
                    hmac.new(self.key, s.encode(), hashlib.sha256).hexdigest()[: pii.PSEUDONYM_CHARS]
                    if s
                    else None
                )
            self.originals = pa.concat_arrays([self.originals, new])
            self.pseudonyms = pa.concat_arrays([self.pseudonyms, pa.array(hashed, pa.string())])
            self.vaulted = pa.concat_arrays([self.vaulted, pa.array(stripped, pa.string())])
        return pc.take(self.pseudonyms, pc.index_in(col, value_set=self.originals))

    def pairs(self):
        """(pseudonym, original) arrays of the ids seen, blank ones (no pseudonym) left out."""
        import pyarrow.compute as pc

        keep = pc.is_valid(self.pseudonyms)
        return self.pseudonyms.filter(keep), self.vaulted.filter(keep)


def _vault_identifiers(conn: psycopg.Connection, contract: Contract, known: _Pseudonyms) -> None:
    from core import pgbinary

    kinds = {c.identifier_kind or c.name for c in contract.columns if c.pseudonym}
    kind = kinds.pop() if len(kinds) == 1 else "identifier"
    conn.execute("create temp table _ids (pseudonym text, original text) on commit drop")
    pseudonyms, originals = known.pairs()
    # one binary block: ~100k ids a day, a Python write_row each cost 0.2-0.3 s of client CPU
    with conn.cursor().copy("copy _ids from stdin (format binary)") as cp:
        cp.write(pgbinary.SIGNATURE)
        cp.write(
            memoryview(pgbinary.rows(len(pseudonyms), [pgbinary.text(pseudonyms), pgbinary.text(originals)]))
        )
        cp.write(pgbinary.TRAILER)
    conn.execute(
        # anti-join first: most ids of a day are known already, and a probe is ~10x cheaper than a
        # conflicting insert (measured: 100k known ids 0.16 s vs 1.2 s)
        "insert into pii_vault.identifiers (kind, pseudonym, original) "
        "select distinct on (pseudonym) %(kind)s, pseudonym, original from _ids i where not exists "
        "(select 1 from pii_vault.identifiers v where v.kind = %(kind)s and v.pseudonym = i.pseudonym) "
        "on conflict do nothing",
        {"kind": kind},
    )
