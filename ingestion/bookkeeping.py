"""The bookkeeping writes of a load: manifest, ledger, quarantine, schema history and the vault.

These are what make "nothing lost" checkable: every file has a manifest row, every attempt a ledger
row (rows_read = rows_loaded + rows_quarantined, a check constraint), every row or file that did not
load a quarantine row naming file, line, column and rule, and every original personal value a vault row.
All of them run on the file's own connection, inside its one transaction (ingestion/loader.py).
"""

from __future__ import annotations

import hashlib
import logging
import time

import psycopg

from core.database import PgParams
from ingestion import readers
from ingestion.contracts import Contract
from ingestion.report import FileReport, LandedFile, Rejection
from ingestion.sql import (
    VAULT_CLASSES,
    Plan,
    extra_json,
    from_sql,
    full_row_json,
    quarantine_text_sql,
    raw_select,
    typed_sql,
)

log = logging.getLogger(__name__)

# Rejections that are schema changes: they also go to ops.schema_history.
SCHEMA_RULES = ("missing_required_column", "incompatible_type")


def read_chunks(stream):
    while chunk := stream.read(readers.CHUNK):
        yield chunk


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with readers.open_binary(path) as f:
        for chunk in read_chunks(f):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- manifest and ledger


def manifest_row(conn, landed: LandedFile, sha: str, version: str, status: str) -> int:
    row = conn.execute(
        """
        insert into ops.file_manifest (source, path, partition_date, size_bytes, sha256, contract_version,
            status)
        values (%s, %s, %s, %s, %s, %s, %s)
        on conflict (source, path, sha256) do update set status = excluded.status, error = null
        returning file_id
        """,
        (landed.source, landed.path, landed.partition_date, landed.size, sha, version, status),
    ).fetchone()
    return row[0]


def finish(
    conn, report: FileReport, source: str, seconds: float, error: str | None = None, copy=None
) -> None:
    """The file's final manifest state and its ledger row."""
    conn.execute(
        "update ops.file_manifest set status = %s, rows_read = %s, rows_loaded = %s, rows_quarantined = %s, "
        "error = %s, quarantine_copy = %s, loaded_at = now() where file_id = %s",
        (
            report.status,
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
            error,
            copy,
            report.file_id,
        ),
    )
    report.ledger_id = conn.execute(
        "insert into ops.load_ledger (file_id, source, status, rows_read, rows_loaded, rows_quarantined, bytes, seconds)"  # noqa: E501
        " values (%s, %s, %s, %s, %s, %s, %s, %s) returning ledger_id",
        (report.file_id, source, report.status, report.rows_read, report.rows_loaded, report.rows_quarantined,
         report.bytes, seconds),
    ).fetchone()[0]  # fmt: skip


def already(conn, landed: LandedFile) -> str | None:
    """The sha256 to reuse when the same path and size are already in the manifest (a re-run)."""
    row = conn.execute(
        "select 1 from ops.file_manifest where source = %s and path = %s and size_bytes = %s limit 1",
        (landed.source, landed.path, landed.size),
    ).fetchone()
    return sha256_of(landed.path) if row else None


def duplicate_of(conn, landed: LandedFile, sha: str) -> int | None:
    # Two loads of the same bytes (two runs of one day, a re-delivery racing its original) queue here
    # until the first one's file transaction ends, then see its manifest row (statement snapshot).
    conn.execute("select pg_advisory_xact_lock(hashtext('kairoo.file'), hashtext(%s || ':' || %s))",
                 (landed.source, sha))  # fmt: skip
    row = conn.execute(
        "select file_id from ops.file_manifest where source = %s and sha256 = %s "
        "and status in ('loaded', 'empty', 'rejected') order by file_id limit 1",
        (landed.source, sha),
    ).fetchone()
    return row[0] if row else None


def replace_older_versions(conn, contract: Contract, landed: LandedFile, sha: str) -> None:
    """A corrected re-delivery under the same path: its older version's rows leave raw and vault."""
    old = [r[0] for r in conn.execute(
        "select file_id from ops.file_manifest where source = %s and path = %s and sha256 <> %s "
        "and status = 'loaded'", (landed.source, landed.path, sha)).fetchall()]  # fmt: skip
    if not old:
        return
    conn.execute(f"delete from {contract.table} where _file_id = any(%s)", (old,))
    if contract.vault_table:
        conn.execute(f"delete from {contract.vault_table} where _file_id = any(%s)", (old,))
    conn.execute("update ops.file_manifest set status = 'replaced' where file_id = any(%s)", (old,))


def record_duplicate(params: PgParams, landed, sha, contract, report: FileReport, began) -> FileReport:
    """Same bytes already loaded: nothing loads; the ledger notes the attempt (a re-run or re-delivery)."""
    with psycopg.connect(params.conninfo()) as conn:
        row = conn.execute(
            "select file_id from ops.file_manifest where source = %s and path = %s and sha256 = %s",
            (landed.source, landed.path, sha),
        ).fetchone()
        if row:  # a re-run of the same file: its manifest row keeps its status and counts
            report.file_id = row[0]
            report.status = "duplicate"
            (report.ledger_id,) = conn.execute(
                "insert into ops.load_ledger (file_id, source, status, rows_read, rows_loaded, rows_quarantined,"  # noqa: E501
                " bytes, seconds) values (%s, %s, 'duplicate', 0, 0, 0, %s, %s) returning ledger_id",
                (report.file_id, contract.source, report.bytes, time.perf_counter() - began),
            ).fetchone() or (None,)
            return report
        report.file_id = manifest_row(conn, landed, sha, contract.version, "duplicate")
        report.status = "duplicate"
        finish(conn, report, contract.source, time.perf_counter() - began)
    return report


def confirm_recorded(params: PgParams, reports: list[FileReport]) -> None:
    """Read every file's ledger row back: a report may say `balanced` only from rows that exist.

    Raises naming the first file whose outcome is not in the ledger (or differs from its report).
    """
    ids = [r.ledger_id for r in reports if r.ledger_id is not None]
    with psycopg.connect(params.conninfo()) as conn:
        rows = {
            lid: (status, read, loaded, quarantined)
            for lid, status, read, loaded, quarantined in conn.execute(
                "select ledger_id, status, rows_read, rows_loaded, rows_quarantined from ops.load_ledger "
                "where ledger_id = any(%s)",
                (ids,),
            )
        }
    for r in reports:
        got = rows.get(r.ledger_id) if r.ledger_id is not None else None
        if got != (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined):
            raise RecordingError(
                f"{r.path}: its outcome ({r.status}, {r.rows_read} read, {r.rows_loaded} loaded, "
                f"{r.rows_quarantined} quarantined) is not in ops.load_ledger (found: {got})"
            )
        r.recorded = True


class RecordingError(RuntimeError):
    """A file's outcome could not be recorded (manifest, ledger): the load must fail, naming the file."""


# ----------------------------------------------------------------------------- quarantine


def copy_to_quarantine(landed: LandedFile, landing_url: str | None) -> str | None:
    """Keep a rejected file's bytes under <landing>/_quarantine/ (best effort: the original stays too)."""
    if not landing_url:
        return None
    try:
        fs, root = readers.landing_fs(landing_url)
        day = landed.partition_date.isoformat() if landed.partition_date else "reference"
        name = landed.path.rstrip("/").rsplit("/", 1)[-1]
        target = f"{root}/_quarantine/{landed.source}/{day}/{name}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        with readers.open_binary(landed.path) as src, fs.open(target, "wb") as dst:
            for chunk in read_chunks(src):
                dst.write(chunk)
        return target
    except OSError as exc:  # the manifest still references the original path
        log.warning("could not copy %s to quarantine: %s", landed.path, exc)
        return None


def reject(
    conn, landed: LandedFile, contract: Contract, report: FileReport, rejection: Rejection, began,
    landing_url: str | None,
) -> FileReport:  # fmt: skip
    """Record a whole file as rejected: quarantine row (line null), schema history, manifest, ledger."""
    problem = rejection.text(landed.path)
    report.status = "rejected"
    report.error = problem
    report.rejection = rejection
    report.rows_loaded = 0
    report.rows_quarantined = report.rows_read
    copy = copy_to_quarantine(landed, landing_url)
    conn.execute(
        "insert into ops.quarantine (file_id, source, path, line, rule, column_name, message) "
        "values (%s, %s, %s, null, %s, %s, %s)",
        (report.file_id, contract.source, landed.path, rejection.rule, rejection.column, problem),
    )
    if rejection.rule in SCHEMA_RULES:
        change = (rejection.rule, rejection.column or "?", problem, None)
        record_schema(conn, contract, report.file_id, [change])
    finish(conn, report, contract.source, time.perf_counter() - began, problem, copy)
    log.warning(problem)
    return report


def quarantine_rows(conn, plan: Plan, file_id: int, path: str) -> int:
    """The rows in `_bad`: a masked copy in ops.quarantine, the original in pii_vault.quarantine_raw."""
    if not conn.execute("select exists (select 1 from _bad)").fetchone()[0]:
        return 0
    masked = quarantine_text_sql(plan)
    original = f"coalesce(l._raw, ({full_row_json(plan)})::text)"
    cur = conn.execute(
        f"""
        with q as (
            insert into ops.quarantine (file_id, source, path, line, rule, column_name, message, raw_text)
            select %(file_id)s, %(source)s, %(path)s, b._rec + {plan.line_offset}, b.rule, b.col,
                   %(path)s || ': line ' || (b._rec + {plan.line_offset})
                   || coalesce(', column ' || quote_literal(b.col), '') || ': ' || b.msg
                   || ' (rule: ' || b.rule || ')' || {plan.origin_sql()},
                   {masked}
            from {from_sql(plan)} join _bad b on b._rec = l._rec
            order by b._rec
            returning quarantine_id, line
        )
        insert into pii_vault.quarantine_raw (quarantine_id, raw_text)
        select q.quarantine_id, {original} from q join _landing l on l._rec = q.line - {plan.line_offset}
        """,
        {"file_id": file_id, "source": plan.contract.source, "path": path},
    )
    return cur.rowcount


# ----------------------------------------------------------------------------- schema history and vault


def record_schema(
    conn, contract: Contract, file_id: int | None, change_rows: list[tuple[str, str, str | None, str | None]]
) -> None:
    """(change, column, detail, pii_class) rows of ops.schema_history for one file."""
    for change, column, detail, cls in change_rows:
        conn.execute(
            "insert into ops.schema_history (source, contract_version, file_id, change, column_name, detail, pii_class)"  # noqa: E501
            " values (%s, %s, %s, %s, %s, %s, %s)",
            (contract.source, contract.version, file_id, change, column, detail, cls),
        )


def insert_vault(conn, plan: Plan, file_id: int) -> None:
    """Originals: identifier maps, the source's personal columns, undeclared personal columns."""
    c = plan.contract
    good = "not exists (select 1 from _bad b where b._rec = l._rec)"
    for col in c.columns:
        if col.pseudonym and plan.col(col.name):
            conn.execute(
                f"insert into pii_vault.identifiers (kind, pseudonym, original) "
                f"select %(kind)s, p, btrim(o) from _pm_{col.name} m where p is not null and not exists "
                f"(select 1 from pii_vault.identifiers v where v.kind = %(kind)s and v.pseudonym = m.p) "
                f"on conflict do nothing",
                {"kind": col.identifier_kind or col.name},
            )
    params = {"file_id": file_id, "source": c.source}
    if c.vault_table:
        typed = {col.name: typed_sql(plan.col(col.name), col) for col in c.columns}
        raw_names, raw_exprs = raw_select(plan)
        by_raw = dict(zip(raw_names, raw_exprs, strict=True))
        vnames = list(c.vault_key) + c.vault_columns()
        vexprs = [by_raw[k] for k in c.vault_key] + [typed[n] for n in c.vault_columns()]
        conn.execute(
            f"insert into {c.vault_table} ({', '.join(vnames)}, _file_id, _line) "
            f"select {', '.join(vexprs)}, %(file_id)s, l._rec + {plan.line_offset} "
            f"from {from_sql(plan)} where {good}",
            params,
        )
    vault_extra = extra_json(plan, VAULT_CLASSES)
    if vault_extra != "null::jsonb":
        conn.execute(
            f"insert into pii_vault.extras (source, file_id, line, payload) "
            f"select %(source)s, %(file_id)s, l._rec + {plan.line_offset}, {vault_extra} "
            f"from _landing l where {good}",
            params,
        )
