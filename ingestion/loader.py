"""Load landed files into raw.* under their contract: exactly once, nothing lost, PII kept in the vault.

One file = one transaction:
1. stream the bytes into a temporary all-text landing table with COPY (hashing them on the way); a file
   that breaks the CSV grammar is re-read by the tolerant reader, which marks its broken records;
2. skip it when the same bytes were loaded before (manifest, by sha256); replace the rows of an older
   version of the same path;
3. check the header against the contract (missing required column or an incompatible type rejects the
   file; a new column is accepted into `_extra` and recorded in ops.schema_history);
4. check every row set-based in SQL (required, type, timestamp, future, enum, length, range, duplicate
   key within the file and against what is loaded) into a small `_bad` table;
5. insert the good rows into raw with identifiers replaced by HMAC pseudonyms and free text redacted,
   the originals into pii_vault, the bad rows into ops.quarantine, and the accounting into the manifest
   and ledger (rows_read = rows_loaded + rows_quarantined, enforced by a check constraint).

This module is the flow; the SQL it runs is built in ingestion/sql.py and the bookkeeping writes
(manifest, ledger, quarantine, schema history, vault) are in ingestion/bookkeeping.py.

Why set-based: per-row Python validation of a million events costs far more than the COPY itself; a
temporary table is not WAL-logged, and each rule is one vectorised pass (benchmarks/bench_ingest.py).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import date

import psycopg

from core.database import PgParams
from ingestion import bookkeeping as books
from ingestion import pii, readers
from ingestion.contracts import Contract, load_contract
from ingestion.report import FileReport, LandedFile, Rejection, SourceReport
from ingestion.sql import (
    PG_TYPES,
    VAULT_CLASSES,
    Plan,
    cast_probe_sql,
    check_cases,
    extra_json,
    from_sql,
    key_sql,
    landing_table_sql,
    lit,
    pseudonym_map_sql,
    raw_select,
    valid_input_sql,
    valid_input_sql_15,
)

log = logging.getLogger(__name__)

# A typed column whose sampled values fail the cast this often is a schema change, not dirty rows.
INCOMPATIBLE_SHARE = 0.9
INCOMPATIBLE_MIN_SAMPLE = 10
# Below this size the exact path is fast enough and the fast path's set-up is not worth it.
FAST_PATH_MIN_BYTES = 4 << 20


class IngestError(RuntimeError):
    """A file could not be loaded; the message names the file, the line (if any) and the rule."""


class _Timer:
    """Step timings of one file, kept in its report (FileReport.timings; the benchmark prints them)."""

    def __init__(self, steps: dict[str, float]) -> None:
        self.steps = steps
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = round(self.steps.get(name, 0.0) + now - self._t, 3)
        self._t = now


# ----------------------------------------------------------------------------- landing


def _landing_table(conn: psycopg.Connection, ncols: int) -> None:
    conn.execute("drop table if exists _landing")
    conn.execute(landing_table_sql(ncols))


def _copy_stream(conn: psycopg.Connection, ncols: int, chunks, hasher) -> None:
    cols = ", ".join(f"f{i}" for i in range(ncols))
    with conn.cursor().copy(f"copy _landing ({cols}) from stdin (format csv)") as cp:
        for chunk in chunks:
            hasher.update(chunk)
            cp.write(chunk)


def _copy_records(conn: psycopg.Connection, ncols: int, records) -> None:
    cols = ", ".join(["_rec", *(f"f{i}" for i in range(ncols)), "_bad", "_raw"])
    with conn.cursor().copy(f"copy _landing ({cols}) from stdin") as cp:
        for rec, fields, bad, raw in records:
            if fields is None:
                cp.write_row([rec, *([None] * ncols), bad, raw])
            else:
                cp.write_row([rec, *fields, None, None])


def _last_byte(landed: LandedFile) -> bytes:
    if landed.size == 0:
        return b""
    with readers.open_binary(landed.path) as f:
        f.seek(landed.size - 1)
        return f.read(1)


def _land(conn: psycopg.Connection, landed: LandedFile) -> tuple[list[str], int, str]:
    """COPY the file into _landing; return (header, line_offset, sha256). Header [] means empty file."""
    fmt = readers.file_format(landed.path)
    hasher = hashlib.sha256()
    if fmt == "csv":
        with readers.open_binary(landed.path) as f:
            first = f.readline()
            hasher.update(first)
            header = readers.split_header(first)
            _landing_table(conn, len(header))
            if not header:
                for chunk in books.read_chunks(f):
                    hasher.update(chunk)
                return [], 1, hasher.hexdigest()
            try:
                with conn.transaction():  # savepoint: a grammar error falls back to the tolerant reader
                    _copy_stream(conn, len(header), books.read_chunks(f), hasher)
                return header, 1, hasher.hexdigest()
            except (psycopg.DataError, psycopg.errors.BadCopyFileFormat, psycopg.errors.CharacterNotInRepertoire,  # noqa: E501
                    psycopg.errors.UntranslatableCharacter) as exc:  # fmt: skip
                log.info("%s: COPY refused the file (%s); re-reading it tolerantly", landed.path, exc)
        with readers.open_binary(landed.path) as f:
            _copy_records(conn, len(header), readers.tolerant_csv_records(f, len(header)))
        return header, 1, books.sha256_of(landed.path)
    if fmt == "jsonl":
        with readers.open_binary(landed.path) as f:
            header = readers.jsonl_header(f)
        _landing_table(conn, len(header))
        if header:
            with readers.open_binary(landed.path) as f:
                _copy_records(conn, len(header), readers.jsonl_records(f, header))
        return header, 0, books.sha256_of(landed.path)
    if fmt == "parquet":
        with readers.open_binary(landed.path) as f:
            header, batches = readers.parquet_csv_batches(f)
            _landing_table(conn, len(header))
            _copy_stream(conn, len(header), batches, hashlib.sha256())
        return header, 0, books.sha256_of(landed.path)
    raise IngestError(f"{landed.path}: unsupported file format (rule: format)")


# ----------------------------------------------------------------------------- checks

# pg_input_is_valid exists from PostgreSQL 16 on (server_version_num).
PG_INPUT_IS_VALID = 160000


def _validity(conn, plan: Plan):
    """The type-validity predicate for this server and file: `(ref, pg_type) -> SQL`.

    16+: `pg_input_is_valid` (0.1 s per 1M values). 15 has no such function, and a cast inside an
    exception block costs a subtransaction per value (2.7 s per 1M values on 15.20), so each typed
    column is first cast as a whole in a savepoint: a column whose every value casts needs no check
    (`true`); only a column that failed is checked value by value with `ops.input_is_valid`.
    Measured on 15.20, 200k events through the exact path, the rules step: clean file 0.86 s with the
    probe vs 2.69 s with the function on every column; one bad duration 1.39 s vs 1.96 s.
    """
    if conn.info.server_version >= PG_INPUT_IS_VALID:
        return valid_input_sql
    dirty: set[str] = set()
    for c in plan.contract.columns:
        ref = plan.col(c.name)
        if c.type == "text" or ref is None:
            continue
        try:
            with conn.transaction():
                conn.execute(cast_probe_sql(plan, c))
        except psycopg.DataError:
            dirty.add(ref)

    def valid(ref: str, pg_type: str) -> str:
        return valid_input_sql_15(ref, pg_type) if ref in dirty else "true"

    return valid


def _schema_problems(conn, plan: Plan) -> Rejection | None:
    """A breaking change (None when the file's shape is acceptable)."""
    header = plan.header
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        return Rejection("duplicate_column", "duplicate column name", column=dups[0], line=1)
    missing = [c for c in plan.contract.required if c not in plan.pos]
    if missing:
        return Rejection("missing_required_column", "required column missing", column=missing[0], line=1)
    typed = [c for c in plan.contract.columns if c.type != "text" and c.name in plan.pos]
    if not typed:
        return None
    # a sample of 1000 values: the per-value predicate is cheap enough on every server
    valid = valid_input_sql if conn.info.server_version >= PG_INPUT_IS_VALID else valid_input_sql_15
    parts = []
    for c in typed:
        v = f"nullif(trim({plan.col(c.name)}), '')"
        parts.append(
            f"count({v}), count(*) filter (where {v} is not null and not {valid(v, PG_TYPES[c.type])})"
        )
    row = conn.execute(
        f"select {', '.join(parts)} from (select * from _landing l where _bad is null order by _rec limit 1000) l"  # noqa: E501
    ).fetchone()
    for i, c in enumerate(typed):
        seen, bad = row[2 * i], row[2 * i + 1]
        if seen >= INCOMPATIBLE_MIN_SAMPLE and bad / seen >= INCOMPATIBLE_SHARE:
            return Rejection("incompatible_type", f"{bad} of the first {seen} values are not {c.type}",
                             column=c.name)  # fmt: skip
    return None


def _classify_extras(conn, plan: Plan) -> None:
    extra = plan.undeclared()
    if not extra:
        return
    cols = ", ".join(plan.col_extra(h) for h in extra)
    sample = conn.execute(
        f"select {cols} from _landing l where _bad is null order by _rec limit 200"
    ).fetchall()
    for j, h in enumerate(extra):
        plan.extras[h] = pii.classify_column(h, [r[j] for r in sample])


REDACT_BATCH = 20_000


def _redact_free_text(conn, plan: Plan) -> None:
    """Redact the free text of a person-bearing source in Python (ingestion/redact.py: names by lexicon
    and document structure are beyond a SQL regex); the redacted values go into extra landing columns
    `rN` (null where nothing personal was found) that raw and the quarantine mask read."""
    cols = [c for c in plan.contract.redacted() if plan.col(c.name)]
    if not cols:
        return
    from ingestion.redact import redact_rows

    person = plan.col(plan.contract.person_name) if plan.contract.person_name else None
    for j, c in enumerate(cols):
        conn.execute(f"alter table _landing add column r{j} text")
        plan.redacted[c.name] = f"l.r{j}"
    names = ", ".join(f"r{j}" for j in range(len(cols)))
    conn.execute(f"create temp table _red (_rec bigint, {', '.join(f'r{j} text' for j in range(len(cols)))}) "
                 f"on commit drop")  # fmt: skip
    refs = ", ".join(plan.col(c.name) or "null" for c in cols)
    changed: list[list] = []
    with conn.cursor("kairoo_redact_read") as read:
        read.execute(f"select l._rec, {person or 'null'}, {refs} from _landing l where l._bad is null")
        while batch := read.fetchmany(REDACT_BATCH):
            outs = redact_rows([(who, list(values)) for _, who, *values in batch])
            for (rec, _, *values), out in zip(batch, outs, strict=True):
                if any(o != v for o, v in zip(out, values, strict=True)):
                    changed.append([rec, *(o if o != v else None for o, v in zip(out, values, strict=True))])
    if changed:
        with conn.cursor().copy(f"copy _red (_rec, {names}) from stdin") as cp:
            for row in changed:
                cp.write_row(row)
        sets = ", ".join(f"r{j} = t.r{j}" for j in range(len(cols)))
        conn.execute(f"update _landing l set {sets} from _red t where t._rec = l._rec")


def _pseudonym_maps(conn, plan: Plan) -> None:
    """One map per identifier column: distinct original → HMAC pseudonym (hashing each id once, not per row).

    Measured on 300k events: HMAC per row 1.4 s, per distinct user 0.75 s (the builtin sha256 is slow here).
    """
    for c in plan.contract.columns:
        if not (c.pseudonym and plan.col(c.name)):
            continue
        conn.execute(f"drop table if exists _pm_{c.name}")
        conn.execute(pseudonym_map_sql(plan, c))
        conn.execute(f"analyze _pm_{c.name}")


def _validate(conn, plan: Plan) -> int:
    """Fill _bad with the rows breaking a column rule (first broken rule wins); return how many."""
    conn.execute("drop table if exists _bad")
    conn.execute(
        "create temp table _bad (_rec bigint primary key, rule text, col text, msg text) on commit drop"
    )
    conn.execute(
        "insert into _bad select _rec, split_part(_bad, ':', 1), null, _bad from _landing where _bad is not null"  # noqa: E501
    )
    cases = check_cases(plan, _validity(conn, plan))
    if cases:
        conn.execute(
            f"insert into _bad select _rec, r[1], r[2], r[3] from (select _rec, case {' '.join(cases)} end r "
            f"from _landing l where _bad is null) s where r is not null"
        )
    if plan.truncated:  # the last record may be cut short even if its field count happens to fit
        conn.execute(
            "insert into _bad select max(_rec), 'truncated', null, 'truncated: the file does not end with a "
            "line break, so its last record may be cut short' from _landing having count(*) > 0 "
            "on conflict do nothing"
        )
    return conn.execute("select count(*) from _bad").fetchone()[0]


def _find_duplicates(conn, plan: Plan, replace_all: bool) -> None:
    """Add duplicate keys to _bad: within the file (first valid occurrence wins) and against raw.

    Only run when the optimistic insert hit the unique key index, so a clean file pays nothing for it.
    """
    keys = key_sql(plan)
    key_exprs = [k for k, _ in keys]
    key_names = ", ".join(plan.contract.key)
    kcols = ", ".join(f"{e} as k{i}" for i, e in enumerate(key_exprs))
    klist = ", ".join(f"k{i}" for i in range(len(key_exprs)))
    kjoin = " and ".join(f"d.k{i} is not distinct from s.k{i}" for i in range(len(key_exprs)))
    conn.execute(
        f"""
        with s as materialized (
            select l._rec, {kcols} from {from_sql(plan)}
            where not exists (select 1 from _bad b where b._rec = l._rec)
        ), d as (
            select {klist}, min(_rec) as first_rec from s group by {klist} having count(*) > 1
        )
        insert into _bad
        select s._rec, 'duplicate_key', {lit(key_names)},
               'duplicate key ({key_names}) of line ' || (d.first_rec + {plan.line_offset})
        from s join d on {kjoin}
        where s._rec <> d.first_rec
        """
    )
    if replace_all:
        return
    join = " and ".join(f"r.{col} = {expr}" for expr, col in keys)
    conn.execute(
        f"""
        insert into _bad
        select l._rec, 'duplicate_key', {lit(key_names)},
               'key ({key_names}) already loaded from file ' || r._file_id || ' line ' || r._line
        from {from_sql(plan)} join {plan.contract.table} r on {join}
        where not exists (select 1 from _bad b where b._rec = l._rec)
        on conflict do nothing
        """
    )


# ----------------------------------------------------------------------------- writes


def _insert_raw(conn, plan: Plan, file_id: int, partition_date: date | None, any_bad: bool) -> int:
    c = plan.contract
    names, exprs = raw_select(plan)
    good = "not exists (select 1 from _bad b where b._rec = l._rec)" if any_bad else "true"
    load_cols = ["_file_id", "_line", "_partition_date", "_loaded_at", "_contract_version", "_extra"]
    load_exprs = ["%(file_id)s", f"l._rec + {plan.line_offset}", "%(pdate)s::date", "now()", "%(version)s",
                  extra_json(plan, None, exclude=VAULT_CLASSES)]  # fmt: skip
    params = {"file_id": file_id, "pdate": partition_date, "version": c.version}
    cur = conn.execute(
        f"insert into {c.table} ({', '.join(names + load_cols)}) "
        f"select {', '.join(exprs + load_exprs)} from {from_sql(plan)} where {good}",
        params,
    )
    return cur.rowcount


def _load_rows(conn, plan: Plan, file_id: int, partition_date: date | None, replace_all: bool, timer) -> int:
    """Validate, insert the good rows (optimistically: duplicates are looked for only on a key clash)."""
    _pseudonym_maps(conn, plan)
    timer.lap("pseudonyms")
    bad = _validate(conn, plan)
    timer.lap("rules")
    try:
        with conn.transaction():
            loaded = _insert_raw(conn, plan, file_id, partition_date, bad > 0)
    except psycopg.errors.UniqueViolation:
        timer.lap("insert_clash")
        _find_duplicates(conn, plan, replace_all)
        timer.lap("duplicates")
        loaded = _insert_raw(conn, plan, file_id, partition_date, True)
    timer.lap("insert_raw")
    books.insert_vault(conn, plan, file_id)
    timer.lap("vault")
    return loaded


# ----------------------------------------------------------------------------- the load of one file


def ingest_file(
    params: PgParams,
    landed: LandedFile,
    pii_key: str,
    *,
    contract: Contract | None = None,
    landing_url: str | None = None,
    replace_all: bool = False,
    pii_columns: dict[str, str] | None = None,
    dry_run: bool = False,
) -> FileReport:
    """Load one landed file under its source's contract; never raises for bad input data.

    `replace_all` (reference snapshots): the file replaces the whole raw table instead of appending.
    `dry_run`: run every check and write, then roll back; the report's `preview` lists the quarantine
    rows that would be written (line, rule, message) and nothing is kept.
    """
    contract = contract or load_contract(landed.source)
    report = FileReport(path=landed.path, status="loading", bytes=landed.size)
    began = time.perf_counter()
    ipad, opad = pii.key_pads(pii_key)
    timer = _Timer(report.timings)
    with psycopg.connect(params.conninfo(), application_name="kairoo-ingest") as conn:
        conn.execute("set local timezone = 'UTC'")
        conn.execute("set local work_mem = '256MB'")
        conn.execute("create temp table _k (ipad bytea, opad bytea) on commit drop")
        conn.execute("insert into _k values (%s, %s)", (ipad, opad))
        sha = books.already(conn, landed)
        if sha and books.duplicate_of(conn, landed, sha):
            return _duplicate(params, landed, sha, contract, report, began, dry_run)
        fast = None if dry_run else _try_fast_path(
            params, conn, landed, contract, pii_key, sha, replace_all, report, pii_columns, began
        )  # fmt: skip
        if fast is not None:
            timer.lap("fast_path")
            return fast
        header, offset, sha = _land(conn, landed)
        timer.lap("land")
        if books.duplicate_of(conn, landed, sha):
            conn.rollback()
            return _duplicate(params, landed, sha, contract, report, began, dry_run)
        books.replace_older_versions(conn, contract, landed, sha)
        report.file_id = books.manifest_row(conn, landed, sha, contract.version, "loading")
        if not header:
            report.status = "empty"
            books.finish(conn, report, contract.source, time.perf_counter() - began)
            return _end_dry_run(conn, report) if dry_run else report
        (report.rows_read,) = conn.execute("select count(*) from _landing").fetchone() or (0,)
        if not report.rows_read:  # a header and nothing else: nothing to load, nothing to quarantine
            report.status = "empty"
            books.finish(conn, report, contract.source, time.perf_counter() - began)
            return _end_dry_run(conn, report) if dry_run else report
        plan = Plan.of(contract, header, offset)
        plan.truncated = readers.file_format(landed.path) == "csv" and _last_byte(landed) not in (b"\n", b"")
        problem = _schema_problems(conn, plan)
        timer.lap("schema")
        if problem:
            books.reject(conn, landed, contract, report, problem, began, None if dry_run else landing_url)
            return _end_dry_run(conn, report) if dry_run else report
        _classify_extras(conn, plan)
        changes: list[tuple[str, str, str | None, str | None]] = [("added_column", h, "kept in _extra" if cls not in VAULT_CLASSES else "kept in pii_vault.extras",  # noqa: E501
                    cls) for h, cls in plan.extras.items()]  # fmt: skip
        changes += [("missing_optional", c.name, "loaded as null", None)
                    for c in contract.columns if c.name not in plan.pos]  # fmt: skip
        books.record_schema(conn, contract, report.file_id, changes)
        if pii_columns is not None:
            pii_columns.update(contract.pii_classes())
            pii_columns.update({h: cls for h, cls in plan.extras.items() if cls != "none"})
        _redact_free_text(conn, plan)
        timer.lap("redact")
        try:
            with conn.transaction():
                if replace_all:  # inside the savepoint: a failed snapshot leaves the previous one in place
                    conn.execute(f"delete from {contract.table}")
                    if contract.vault_table:
                        conn.execute(f"delete from {contract.vault_table}")
                report.rows_loaded = _load_rows(
                    conn, plan, report.file_id, landed.partition_date, replace_all, timer
                )
                report.rows_quarantined = books.quarantine_rows(conn, plan, report.file_id, landed.path)
                timer.lap("quarantine")
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            # the file's content broke a rule the checks did not foresee (a value the type checks let
            # through, a constraint): reject the file and keep the night going. Any other database error
            # (connection lost, lock timeout, server restart) is not about the file: it propagates.
            problem = Rejection("load_error", f"load failed, nothing of this file was loaded: {exc}")
            books.reject(conn, landed, contract, report, problem, began, None if dry_run else landing_url)
            return _end_dry_run(conn, report) if dry_run else report
        report.far_outside = _far_outside(conn, plan, landed.partition_date)
        report.status = "loaded"
        books.finish(conn, report, contract.source, time.perf_counter() - began)
        if dry_run:
            return _end_dry_run(conn, report)
    timer.lap("commit")
    log.debug("step seconds %s", report.timings)
    return report


def _duplicate(params, landed, sha, contract, report: FileReport, began, dry_run: bool) -> FileReport:
    if dry_run:  # nothing is written: the bytes are known, so nothing would load
        report.status = "duplicate"
        report.recorded = True
        return report
    return books.record_duplicate(params, landed, sha, contract, report, began)


def _end_dry_run(conn, report: FileReport) -> FileReport:
    """Keep what the quarantine would have received, then roll the whole file back."""
    if report.file_id is not None:
        report.preview = [tuple(r) for r in conn.execute(
            "select line, rule, message from ops.quarantine where file_id = %s order by line nulls first",
            (report.file_id,),
        ).fetchall()]  # fmt: skip
    conn.rollback()
    report.file_id = report.ledger_id = None
    report.recorded = True  # nothing to record: a dry run writes nothing by design
    report.status = f"{report.status} (dry run)"
    return report


# Events this many days or more from their partition's day are reported (a history mapped as one day).
FAR_OUTSIDE_DAYS = 7


def _far_outside(conn, plan: Plan, partition_date: date | None) -> int:
    """Loaded rows whose event time lies FAR_OUTSIDE_DAYS or more from the partition's day."""
    col = plan.contract.event_time
    if not (col and partition_date and plan.col(col)):
        return 0
    ref = plan.col(col)
    return conn.execute(
        # CASE: the cast must only ever see rows that passed the checks (a WHERE may be evaluated first)
        f"select count(*) filter (where case when {ref} = '' or exists (select 1 from _bad b where "
        f"b._rec = l._rec) then false else abs({ref}::timestamptz::date - %s::date) >= {FAR_OUTSIDE_DAYS} "
        f"end) from _landing l where l._bad is null",
        (partition_date,),
    ).fetchone()[0]


def _try_fast_path(params, conn, landed, contract, pii_key, sha, replace_all, report, pii_columns, began):
    """Load a big clean file by one COPY into raw (ingestion/fastpath.py); None when it is not possible."""
    from ingestion import fastpath

    fmt = readers.file_format(landed.path)
    if fmt != "csv" or landed.size < FAST_PATH_MIN_BYTES:
        return None
    with readers.open_binary(landed.path) as f:
        header = readers.split_header(f.readline())
    if not fastpath.eligible(contract, header, fmt, replace_all):
        return None
    if _last_byte(landed) not in (b"\n",):
        return None
    t0 = time.perf_counter()
    sha = sha or books.sha256_of(landed.path)
    report.timings["fast_sha256"] = round(time.perf_counter() - t0, 3)
    if books.duplicate_of(conn, landed, sha):
        return books.record_duplicate(params, landed, sha, contract, report, began)
    steps: dict[str, float] = {}
    far: dict[str, int] = {}
    try:
        with conn.transaction():
            books.replace_older_versions(conn, contract, landed, sha)
            report.file_id = books.manifest_row(conn, landed, sha, contract.version, "loading")
            rows = fastpath.load(
                conn,
                contract,
                landed.path,
                header,
                report.file_id,
                landed.partition_date,
                pii_key,
                steps,
                far,
            )
            report.far_outside = far.get("rows", 0)
            report.rows_read = report.rows_loaded = rows
            report.rows_quarantined = 0
            report.status = "loaded" if rows else "empty"
            books.finish(conn, report, contract.source, time.perf_counter() - began)
    except (fastpath.Unsuitable, psycopg.errors.UniqueViolation, psycopg.DataError) as exc:
        log.info("%s: fast path not possible (%s); loading row by row in SQL", landed.path, exc)
        report.file_id = None
        report.status = "loading"
        report.rows_read = report.rows_loaded = 0
        return None
    report.timings.update(steps)
    if pii_columns is not None:
        pii_columns.update(contract.pii_classes())
    t0 = time.perf_counter()
    conn.commit()
    report.timings["fast_commit"] = round(time.perf_counter() - t0, 3)
    return report


def ingest_files(
    params: PgParams,
    source: str,
    files: list[LandedFile],
    pii_key: str,
    *,
    landing_url: str | None = None,
    replace_all: bool = False,
) -> SourceReport:
    """Load files of one source in order; one file's failure never stops the others."""
    contract = load_contract(source)
    report = SourceReport(source=source, contract_version=contract.version)
    report.pii_columns.update(contract.pii_classes())
    began = time.perf_counter()
    for landed in files:
        # Bad content never raises (it is quarantined or rejected, and recorded). What does raise is not
        # about the content: a transient database error propagates as is (the step's retry policy waits
        # for it, runtime/retries.py); anything else means the outcome could not be recorded, and the
        # load fails naming the file: a file written nowhere must never pass as "rejected".
        try:
            fr = ingest_file(params, landed, pii_key, contract=contract, landing_url=landing_url,
                             replace_all=replace_all, pii_columns=report.pii_columns)  # fmt: skip
        except psycopg.OperationalError as exc:
            exc.add_note(f"while loading {landed.path}")
            raise
        except Exception as exc:
            raise books.RecordingError(
                f"{landed.path}: the load failed and its outcome could not be recorded: {exc}"
            ) from exc
        if fr.far_outside:
            log.warning("%s: %d events lie %d days or more from the partition day %s (a history landed as "
                        "one day? land it per day: `python -m ingestion land --by-day`)", landed.path,
                        fr.far_outside, FAR_OUTSIDE_DAYS, landed.partition_date)  # fmt: skip
        report.files.append(fr)
    books.confirm_recorded(params, report.files)
    report.seconds = time.perf_counter() - began
    return report
