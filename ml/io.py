"""Thin SQL I/O shared by the ranking stage: COPY out to pandas, COPY in from pandas.

COPY is used both ways because it is the fast path on this stack (stack notes: COPY 168k rows/s into a
logged table, pandas `to_sql` 13–59x slower); each read is one statement that PostgreSQL plans.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pandas as pd
import psycopg
from psycopg import sql

from core import pgbinary
from core.database import column_types


def read_frame(conn: psycopg.Connection, query: str, params: dict | None = None, **read_csv) -> pd.DataFrame:
    """Run `query` (lower-case SQL, `%(name)s` placeholders) and return its rows as a DataFrame."""
    # COPY cannot take bind parameters: render literals client-side with psycopg's own quoting.
    rendered = query if params is None else psycopg.ClientCursor(conn).mogrify(query, params)
    statement = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(sql.SQL(rendered))
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    if buffer.getbuffer().nbytes == 0:
        return pd.DataFrame()
    return pd.read_csv(buffer, **read_csv)


def write_frame(conn: psycopg.Connection, table: str, frame: pd.DataFrame, columns: Iterable[str]) -> int:
    """Append `frame[columns]` to `schema.table` with COPY; returns the number of rows written.

    Binary COPY when every column's type has an encoder (`core.pgbinary.frame_field`), else CSV. Why:
    a 2M-row frame of candidates' shape (date, three texts, three doubles, two integers, one index)
    took 24.3 s as CSV and 9.4 s as binary on this 2-core machine at load ~5 (pandas' `to_csv` and the
    server's parse of every number are most of it); the nightly candidates are ~12M rows at tier M.
    """
    columns = list(columns)
    schema, name = table.split(".")
    types = column_types(conn, table)
    binary = all(types.get(c) in pgbinary.FRAME_TYPES for c in columns)  # else CSV: the server parses
    target = sql.SQL("copy {}.{} ({}) from stdin").format(
        sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    step = 500_000  # rows per slice: client memory stays bounded for tens of millions of rows
    rows = 0
    with conn.cursor() as cur:
        if binary:
            with cur.copy(target + sql.SQL(" with (format binary)")) as copy:
                copy.write(pgbinary.SIGNATURE)
                for start in range(0, len(frame), step):
                    part = frame.iloc[start : start + step][columns]
                    try:
                        block = pgbinary.frame_rows(part, [types[c] for c in columns])
                    except pgbinary.NotEncodable as exc:  # a value the server would refuse too
                        raise ValueError(f"{table}: rows {start + 1}..{start + len(part)}: {exc}") from exc
                    copy.write(memoryview(block))
                    rows += len(part)
                copy.write(pgbinary.TRAILER)
            return rows
        with cur.copy(target + sql.SQL(" with (format csv)")) as copy:
            for start in range(0, len(frame), step):
                part = frame.iloc[start : start + step]
                copy.write(part[columns].to_csv(index=False, header=False))
                rows += len(part)
    return rows


def table_columns(conn: psycopg.Connection, table: str) -> set[str]:
    """Column names of a table or view (empty when it does not exist)."""
    return set(column_types(conn, table))


def iter_frames(
    conn: psycopg.Connection, query: str, params: dict | None = None, chunk_rows: int = 200_000, **read_csv
):
    """Stream the rows of ONE query as DataFrames of about `chunk_rows` rows (bounded client memory).

    One statement on purpose: per-chunk queries with a WHERE would plan and scan once per chunk (and,
    over a view whose CTEs are referenced several times, PostgreSQL would recompute the whole view
    each time).
    """
    rendered = query if params is None else psycopg.ClientCursor(conn).mogrify(query, params)
    statement = sql.SQL("copy ({}) to stdout with (format csv, header true)").format(sql.SQL(rendered))
    header: bytes | None = None
    pending = bytearray()
    lines = 0
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for block in copy:
            data = bytes(block)
            if header is None:
                pending += data
                cut = pending.find(b"\n")
                if cut < 0:
                    continue
                header = bytes(pending[: cut + 1])
                data = bytes(pending[cut + 1 :])
                pending = bytearray()
            pending += data
            lines += data.count(b"\n")  # COPY csv quotes embedded newlines; our columns have none
            if lines >= chunk_rows:
                cut = pending.rfind(b"\n") + 1
                yield pd.read_csv(io.BytesIO(header + bytes(pending[:cut])), **read_csv)
                pending = pending[cut:]
                lines = pending.count(b"\n")
    if header is not None and pending.strip():
        yield pd.read_csv(io.BytesIO(header + bytes(pending)), **read_csv)
