"""PostgreSQL's binary COPY format, built from Arrow columns in bulk (the bulk writers' wire format).

Two writers use it: ingestion's fast path (raw signals from Arrow blocks) and `ml.io.write_frame`
(candidates and recommendations from pandas frames, `frame_rows`).

Why binary: with CSV the server parses every timestamp, integer and numeric again after the client
has already parsed and checked them with Arrow. On one M-tier day of events (1.02M rows, raw's shape,
unique key on event_id) the server's COPY took 2.9-3.5 s of CPU from CSV and 1.6-1.9 s from binary
(benchmarks/bench_ingest.py; the reference `\\copy` of the narrower input file took 1.2-1.9 s).

A row of the format is a 16-bit field count, then per field a 32-bit length (-1 for null) and the
value in the type's binary send form, all big-endian. Each column becomes one Arrow binary array of
"length || value" per row; one `binary_join_element_wise` over the columns yields the rows back to
back in one buffer (C++, no Python per row).

Exactness: a value is sent as the server would have parsed it from text. Timestamps arrive already
parsed (microseconds, UTC) by the caller; numerics are encoded from their text by Decimal, which
keeps the display scale as `numeric_in` does ('12.50' stays 12.50); tests/test_ingest_pgbinary.py
compares every encoding with the server's own `*_send` of the same text.
"""

from __future__ import annotations

import struct
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no OIDs, no header extension
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)

# Days and microseconds between the Unix epoch (Arrow) and PostgreSQL's epoch, 2000-01-01.
PG_EPOCH_DAYS = 10_957
PG_EPOCH_US = PG_EPOCH_DAYS * 86_400 * 1_000_000

_NUMERIC_POS, _NUMERIC_NEG = 0x0000, 0x4000


class NotEncodable(ValueError):
    """A value the binary form cannot carry exactly (the caller loads the file another way)."""


def _fixed(values: np.ndarray, dtype: str) -> pa.Array:
    """A fixed-size binary array of `values` in the big-endian `dtype` ('>i4', '>i8', ...)."""
    a = np.ascontiguousarray(values.astype(dtype, copy=False))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(a.itemsize), len(a), [None, pa.py_buffer(a)])


def _prefixed(values: np.ndarray, dtype: str, nulls: np.ndarray | None) -> list[pa.Array]:
    """Parts of a fixed-width field: its length word (or -1) and its value (empty where null)."""
    n, width = len(values), np.dtype(dtype).itemsize
    if nulls is None or not nulls.any():
        both = np.empty((n, 4 + width), np.uint8)
        both[:, :4] = np.frombuffer(struct.pack(">i", width), np.uint8)
        both[:, 4:] = np.ascontiguousarray(values.astype(dtype, copy=False)).view(np.uint8).reshape(n, width)
        return [pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 + width), n, [None, pa.py_buffer(both)])]
    lengths = _fixed(np.where(nulls, -1, width), ">i4")
    data = pc.cast(_fixed(np.where(nulls, 0, values), dtype), pa.binary())
    return [lengths, pc.if_else(pa.array(nulls), pa.scalar(b"", pa.binary()), data)]


def text(col: pa.Array) -> list[pa.Array]:
    """A text field: UTF-8 bytes as they are (Arrow has validated them)."""
    lengths = pc.fill_null(pc.binary_length(col), -1).to_numpy(zero_copy_only=False)
    return [_fixed(lengths, ">i4"), pc.fill_null(col, "")]


def int4(values: np.ndarray, nulls: np.ndarray | None = None) -> list[pa.Array]:
    return _prefixed(values, ">i4", nulls)


def int8(values: np.ndarray, nulls: np.ndarray | None = None) -> list[pa.Array]:
    return _prefixed(values, ">i8", nulls)


def float8(values: np.ndarray, nulls: np.ndarray | None = None) -> list[pa.Array]:
    """A double precision field: IEEE 754 bits as they are (exact, unlike a decimal text round trip)."""
    return _prefixed(values, ">f8", nulls)


def float4(values: np.ndarray, nulls: np.ndarray | None = None) -> list[pa.Array]:
    return _prefixed(values, ">f4", nulls)


def boolean(values: np.ndarray, nulls: np.ndarray | None = None) -> list[pa.Array]:
    return _prefixed(values.astype(np.uint8), ">u1", nulls)


def timestamptz(unix_us: np.ndarray, nulls: np.ndarray | None = None) -> list[pa.Array]:
    """Microseconds since the Unix epoch (UTC) as timestamptz."""
    return _prefixed(unix_us - PG_EPOCH_US, ">i8", nulls)


def date(unix_days: np.ndarray, nulls: np.ndarray | None = None) -> list[pa.Array]:
    """Days since the Unix epoch as date."""
    return _prefixed(unix_days - PG_EPOCH_DAYS, ">i4", nulls)


def constant(value: bytes | None, n: int) -> list[pa.Array]:
    """The same field (already in send form, None for null) on every row."""
    field = NULL if value is None else struct.pack(">i", len(value)) + value
    buf = np.frombuffer(field * n, np.uint8) if n else np.empty(0, np.uint8)
    return [pa.FixedSizeBinaryArray.from_buffers(pa.binary(len(field)), n, [None, pa.py_buffer(buf)])]


def numeric_send(literal: str) -> bytes:
    """`numeric_send(literal::numeric)`: base-10000 digits, weight, sign and the display scale.

    Raises NotEncodable for what is not a finite decimal number (NaN, infinity, garbage).
    """
    try:
        d = Decimal(literal.strip())
    except InvalidOperation as exc:
        raise NotEncodable(f"not a decimal number: {literal!r}") from exc
    if not d.is_finite():
        raise NotEncodable(f"not a finite number: {literal!r}")
    sign, digits, exp = d.as_tuple()
    assert isinstance(exp, int)
    dscale = max(0, -exp)
    ds = "".join(map(str, digits))
    if exp >= 0:
        whole, frac = ds + "0" * exp, ""
    else:
        point = len(ds) + exp
        whole, frac = (ds[:point], ds[point:]) if point > 0 else ("", "0" * -point + ds)
    whole = whole.lstrip("0")
    if not whole and not frac.strip("0"):  # zero: no digits, positive, the scale kept
        return struct.pack(">hhHh", 0, 0, _NUMERIC_POS, dscale)
    whole = whole.zfill(-(-len(whole) // 4) * 4) if whole else ""
    frac = frac.ljust(-(-len(frac) // 4) * 4, "0")
    groups = [int(whole[i : i + 4]) for i in range(0, len(whole), 4)]
    weight = len(groups) - 1
    fgroups = [int(frac[i : i + 4]) for i in range(0, len(frac), 4)]
    if not groups:  # below one: leading zero groups of the fraction only lower the weight
        while fgroups and fgroups[0] == 0:
            fgroups.pop(0)
            weight -= 1
    groups += fgroups
    while groups and groups[-1] == 0:
        groups.pop()
    return struct.pack(f">hhHh{len(groups)}h", len(groups), weight, _NUMERIC_NEG if sign else _NUMERIC_POS,
                       dscale, *groups)  # fmt: skip


# Distinct values encoded per column and block at most; a high-cardinality numeric column would spend
# seconds in Decimal here, so it is declined (and loaded by the exact path) instead.
NUMERIC_MAX_DISTINCT = 50_000


def numeric(col: pa.Array, cache: dict[str, bytes] | None = None) -> list[pa.Array]:
    """A numeric field from its text: each distinct value is encoded once (dictionary), then taken."""
    cache = {} if cache is None else cache
    encoded = pc.dictionary_encode(col)
    distinct = encoded.dictionary.to_pylist()
    if len(distinct) > NUMERIC_MAX_DISTINCT:
        raise NotEncodable(f"{len(distinct)} distinct numeric values in one block")
    fields = []
    for v in distinct:
        f = cache.get(v)
        if f is None:
            payload = numeric_send(v)
            f = cache[v] = struct.pack(">i", len(payload)) + payload
        fields.append(f)
    table = pa.array([*fields, NULL], pa.binary())
    indices = pc.fill_null(encoded.indices, len(fields))
    return [pc.take(table, indices)]


def rows(n: int, fields: list[list[pa.Array]]) -> pa.Buffer:
    """The rows of one block in COPY binary form (no signature, no trailer), back to back."""
    parts = [_fixed(np.full(n, len(fields), np.int16), ">i2")]
    for f in fields:
        parts += f
    parts = [p if p.type == pa.binary() else pc.cast(p, pa.binary()) for p in parts]
    joined = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.binary()))
    offsets = np.frombuffer(joined.buffers()[1], np.int32, count=n + 1, offset=joined.offset * 4)
    data = joined.buffers()[2]
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


# The column types `frame_rows` encodes (information_schema.columns.data_type spelling); a table with
# another type is written as CSV by the caller.
FRAME_TYPES = frozenset({"date", "text", "integer", "bigint", "smallint", "double precision", "real",
                         "boolean", "timestamp with time zone"})  # fmt: skip
_INT_RANGE = {"smallint": (-(2**15), 2**15 - 1), "integer": (-(2**31), 2**31 - 1),
              "bigint": (-(2**63), 2**63 - 1)}  # fmt: skip


def frame_field(series, data_type: str) -> list[pa.Array]:
    """One pandas column as a field of `data_type`; null where pandas says missing (NaN, None, NaT).

    Raises NotEncodable where the server would refuse the value too (a non-integral or out-of-range
    number in an integer column, text in a number column). Numbers in a text column become their text.
    """
    import pandas as pd

    if data_type not in FRAME_TYPES:
        raise NotEncodable(f"type {data_type} has no frame encoder")
    missing = series.isna().to_numpy()
    nulls = missing if missing.any() else None
    if data_type == "text":
        values = series.to_numpy(dtype=object)
        try:
            return text(pa.array(values, pa.string(), from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers in a text column: their text, as CSV has it
            return text(pa.array(np.where(missing, None, series.astype(str).to_numpy(dtype=object)),
                                 pa.string()))  # fmt: skip
    if data_type == "date":
        days = pd.to_datetime(series).to_numpy().astype("datetime64[D]").astype(np.int64)
        return date(np.where(missing, PG_EPOCH_DAYS, days), nulls)
    if data_type == "timestamp with time zone":
        naive = pd.to_datetime(series, utc=True).dt.tz_localize(None)  # UTC wall time
        us = naive.to_numpy().astype("datetime64[us]").astype(np.int64)
        return timestamptz(np.where(missing, PG_EPOCH_US, us), nulls)
    values = series.to_numpy()
    if data_type == "boolean":
        if values.dtype.kind not in "biu" and not all(isinstance(v, bool) for v in values[~missing]):
            raise NotEncodable(f"{series.name}: not boolean ({values.dtype})")
        return boolean(np.where(missing, False, values).astype(bool), nulls)
    try:
        numbers = np.where(missing, 0, values).astype(np.float64 if data_type in ("real", "double precision")
                                                      else np.int64)  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise NotEncodable(f"{series.name}: not a number ({exc})") from exc
    if data_type == "double precision":
        return float8(numbers, nulls)
    if data_type == "real":
        return float4(numbers, nulls)
    if values.dtype.kind == "f" and not np.array_equal(numbers, np.where(missing, 0, values)):
        raise NotEncodable(f"{series.name}: a non-integral value in an integer column")
    low, high = _INT_RANGE[data_type]
    if len(numbers) and (numbers.min() < low or numbers.max() > high):
        raise NotEncodable(f"{series.name}: a value out of {data_type} range")
    width = {"smallint": ">i2", "integer": ">i4", "bigint": ">i8"}[data_type]
    return _prefixed(numbers, width, nulls)


def frame_rows(frame, types: list[str]) -> pa.Buffer:
    """The rows of a pandas frame (its columns in table order, `types` theirs) in COPY binary form."""
    return rows(len(frame), [frame_field(frame.iloc[:, i], t) for i, t in enumerate(types)])
