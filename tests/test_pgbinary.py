"""The fast path's binary COPY encoding against the server's own parse of the same text."""

from __future__ import annotations

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core import pgbinary

NUMERICS = ["0", "0.0", "-0", "00012.3400", "12.5", "100", "10000", "1e3", "1.5e1", "1.50e1", "1e-3", ".5",
            "-.05", "0.0001", "0.00001", "123456789.123456789", "-99999.9999", "100e-2", "  42.5 ", "+7",
            "1e20", "9999", "10001", "0.10", "5e-10", "-1E+2"]  # fmt: skip


def test_numeric_send_is_the_servers(fresh_db):
    with psycopg.connect(fresh_db.conninfo()) as conn:
        for v in NUMERICS:
            (server,) = conn.execute("select numeric_send(%s::numeric)", (v,)).fetchone()
            assert pgbinary.numeric_send(v) == bytes(server), v


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1,5", ""])
def test_numeric_send_refuses_what_is_not_a_finite_decimal(bad):
    with pytest.raises(pgbinary.NotEncodable):
        pgbinary.numeric_send(bad)


def test_numeric_declines_a_high_cardinality_block(monkeypatch):
    monkeypatch.setattr(pgbinary, "NUMERIC_MAX_DISTINCT", 2)
    with pytest.raises(pgbinary.NotEncodable):
        pgbinary.numeric(pa.array(["1", "2", "3"]))


def test_a_block_copies_in_as_the_text_would_parse(fresh_db):
    """Every encoder, nulls included, lands the values the server reads from the same text."""
    texts = ["café", None, "", "x" * 300]
    stamps = ["2026-03-02T06:00:24Z", "1999-12-31T23:59:59.999999Z", "2026-03-02T06:00:24+05:30", None]
    ints = ["7", None, "-2147483648", "2147483647"]
    nums = ["12.50", None, "-0.001", "1e3"]
    dates = ["2026-03-02", "1970-01-01", None, "2000-01-01"]
    n = len(texts)
    ts = pc.cast(pc.cast(pa.array(stamps), pa.timestamp("us", tz="UTC")), pa.int64())
    dt = pc.cast(pc.cast(pa.array(dates), pa.date32()), pa.int32())
    it = pc.cast(pa.array(ints), pa.int32())

    def nulls(a):
        return a.is_null().to_numpy(zero_copy_only=False)

    fields = [
        pgbinary.text(pa.array(texts)),
        pgbinary.timestamptz(ts.fill_null(0).to_numpy(), nulls(ts)),
        pgbinary.int4(it.fill_null(0).to_numpy(), nulls(it)),
        pgbinary.numeric(pa.array(nums)),
        pgbinary.date(dt.fill_null(0).to_numpy(), nulls(dt)),
        pgbinary.int8(np.arange(n, dtype=np.int64) + 2**40),
        pgbinary.constant(b"1.0.0", n),
        pgbinary.constant(None, n),
    ]
    block = pgbinary.rows(n, fields)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("set timezone = 'UTC'")
        conn.execute(
            "create temp table b (t text, ts timestamptz, i integer, x numeric, d date, l bigint, v text, "
            "z text)"
        )
        with conn.cursor().copy("copy b from stdin (format binary)") as cp:
            cp.write(pgbinary.SIGNATURE)
            cp.write(memoryview(block))
            cp.write(pgbinary.TRAILER)
        got = conn.execute("select t, ts::text, i, x::text, d::text, l, v, z from b").fetchall()
        want = conn.execute(
            "select nullif(t, ''), ts::timestamptz::text, i::integer, x::numeric::text, d::date::text, l, "
            "'1.0.0', null "
            "from unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[]) "
            "with ordinality u(t, ts, i, x, d, l, o) order by o",
            (texts, stamps, ints, nums, dates, [i + 2**40 for i in range(n)]),
        ).fetchall()
    # a text null and an empty text differ on the wire; the fast path reads "" as null upstream
    assert [(None if r[0] == "" else r[0], *r[1:]) for r in got] == want


STAMPS = ["2026-03-02T06:00:24Z", "2026-03-02 06:00:24Z", "2026-03-02T06:00:24.5Z", "2026-03-02T06:00Z",
          "2026-03-02T06:00:24+15:59", "2026-03-02T06:00:24-1530", "2026-03-02T06:00:24+05",
          "0500-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-03-02T06:00:24+16:00",
          "2026-03-02T06:00:24+23:00", "2026-03-02T06:00:24+05:99", "2026-02-29T00:00:00Z", "2026-03-02",
          "2026-03-02T24:00:00Z"]  # fmt: skip


@pytest.mark.parametrize("stamp", STAMPS)
def test_fast_path_sends_a_timestamp_only_as_the_server_reads_it(fresh_db, stamp):
    """What the fast path's checks accept, Arrow parses to the server's value; the rest goes exact."""
    from datetime import UTC, datetime

    from ingestion import fastpath
    from ingestion.contracts import load_contract

    contract = load_contract("interaction_events")
    row = {"event_id": "e1", "user_id": "u1", "event_type": "job_view", "item_type": "job", "item_id": "j1",
           "occurred_at": stamp, "duration_s": "5", "progress_pct": None, "session_id": "s1"}  # fmt: skip
    batch = pa.RecordBatch.from_pydict({k: pa.array([v], pa.string()) for k, v in row.items()})
    now = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("set timezone = 'UTC'")
        try:
            (server,) = conn.execute(
                "select (extract(epoch from %s::timestamptz) * 1000000)::bigint", (stamp,)
            ).fetchone()
        except psycopg.DataError:
            server = None
    try:
        parsed = fastpath._check(pc, pa, contract, batch, now)
    except fastpath.Unsuitable:
        return  # the exact path decides, with the server's own parse
    assert parsed["occurred_at"][0].as_py() == server


def test_write_frame_lands_every_type_and_null_exactly(fresh_db):
    """ml.io.write_frame's binary COPY: each pandas value as the table's type holds it, NaN/None as null."""
    import datetime as dt

    import pandas as pd

    from ml.io import write_frame

    frame = pd.DataFrame(
        {
            "d": [dt.date(2026, 3, 2), None, dt.date(1970, 1, 1)],
            "t": ["café", None, ""],
            "n": [7, 12, 3],  # numbers in a text column land as their text, as CSV had them
            "i": [1.0, np.nan, -2147483648.0],  # a float column of whole numbers with a NaN
            "l": np.array([2**40, 0, -1], dtype=np.int64),
            "f": [0.1, np.nan, 1e-300],
            "b": [True, False, None],
            "ts": pd.to_datetime(["2026-03-02T06:00:24.5Z", None, "1999-12-31T23:59:59.0Z"], utc=True),
        }
    )
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("set timezone = 'UTC'")
        conn.execute(
            "create table public.w (d date, t text, n text, i integer, l bigint, f double precision,"
            " b boolean, ts timestamptz)"
        )
        assert write_frame(conn, "public.w", frame, frame.columns) == 3
        got = conn.execute("select d, t, n, i, l, f, b, ts::text from public.w").fetchall()
        with pytest.raises(ValueError, match=r"public.w: rows 1..1: i: a non-integral value"):
            write_frame(conn, "public.w", pd.DataFrame({"i": [1.5]}), ["i"])
    assert got == [
        (dt.date(2026, 3, 2), "café", "7", 1, 2**40, 0.1, True, "2026-03-02 06:00:24.5+00"),
        (None, None, "12", None, 0, None, False, None),
        (dt.date(1970, 1, 1), "", "3", -2147483648, -1, 1e-300, None, "1999-12-31 23:59:59+00"),
    ]
