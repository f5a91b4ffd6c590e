"""Landing folders and file readers (CSV, JSONL, Parquet) over fsspec: local paths or any URL.

Readers never hold a whole file: CSV bytes stream straight into PostgreSQL COPY; JSONL and Parquet are
converted record by record / batch by batch. The tolerant CSV reader is the slow path used only when a
file breaks the CSV grammar (quoting, field count, encoding): it keeps every record, marking broken ones.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Sequence
from datetime import date

import fsspec

from ingestion.report import LandedFile

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHUNK = 1 << 20

csv.field_size_limit(sys.maxsize)  # huge fields are a contract rule (max_length), not a reader crash


def file_format(path: str) -> str | None:
    lower = path.lower()
    for ext, fmt in FORMATS.items():
        if lower.endswith(ext):
            return fmt
    return None


def landing_fs(landing_url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = fsspec.core.url_to_fs(landing_url)
    return fs, root.rstrip("/")


def _full(fs: fsspec.AbstractFileSystem, path: str) -> str:
    return fs.unstrip_protocol(path) if fs.protocol not in ("file", ("file", "local")) else path


def _files_in(fs: fsspec.AbstractFileSystem, folder: str) -> list[dict]:
    if not fs.isdir(folder):
        return []
    out = []
    for info in fs.ls(folder, detail=True):
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if info.get("type") == "file" and not name.startswith((".", "_")) and file_format(name):
            out.append(info)
    return sorted(out, key=lambda i: i["name"])


def partition_files(landing_url: str, source: str, start: date, end: date) -> list[LandedFile]:
    """Files in `<landing>/<source>/<day>/` for every day in [start, end], in day then name order."""
    fs, root = landing_fs(landing_url)
    base = f"{root}/{source}"
    if not fs.isdir(base):
        return []
    out: list[LandedFile] = []
    for info in sorted(fs.ls(base, detail=True), key=lambda i: i["name"]):
        day = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if info.get("type") != "directory" or not _DAY_RE.match(day):
            continue
        d = date.fromisoformat(day)
        if start <= d <= end:
            out += [
                LandedFile(source, _full(fs, f["name"]), d, int(f["size"]))
                for f in _files_in(fs, info["name"])
            ]
    return out


def reference_files(landing_url: str, source: str) -> list[LandedFile]:
    """Snapshots in `<landing>/reference/<source>/`, oldest name first (the last one is the latest)."""
    fs, root = landing_fs(landing_url)
    return [
        LandedFile(source, _full(fs, f["name"]), None, int(f["size"]))
        for f in _files_in(fs, f"{root}/reference/{source}")
    ]


def open_binary(path: str):
    return fsspec.open(path, "rb").open()


def split_header(first_line: bytes) -> list[str]:
    """Column names from a CSV header line (BOM and surrounding blanks removed)."""
    text = first_line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    return [h.strip() for h in next(csv.reader([text]))] if text.strip() else []


def tolerant_csv_records(
    stream, ncols: int
) -> Iterator[tuple[int, Sequence[str | None] | None, str | None, str | None]]:
    """(record_no, fields or None, broken_rule or None, raw_text) for every data record after the header.

    Undecodable bytes are kept (surrogateescape) and reported as rule `encoding`; a wrong number of
    fields (broken quoting, truncated last line) as `field_count`; NUL characters as `nul_byte`.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text)
    try:
        next(reader)  # header
    except (StopIteration, csv.Error):
        return
    rec = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. unterminated quote at end of file
            rec += 1
            yield rec, None, f"csv_syntax: {exc}", None
            return
        rec += 1
        raw = _render(fields)
        if any("\x00" in f for f in fields):
            yield rec, None, "nul_byte", raw.replace("\x00", "\\0")
        elif any(_has_surrogate(f) for f in fields):
            yield rec, None, _encoding_problem(fields), raw
        elif len(fields) != ncols:
            yield rec, None, f"field_count: expected {ncols} fields, found {len(fields)}", raw
        else:
            yield rec, fields, None, None


def _encoding_problem(fields: list[str]) -> str:
    """The `encoding` rule's message: the first undecodable byte and what to do about it."""
    byte = next(ord(ch) - 0xDC00 for f in fields for ch in f if "\udc80" <= ch <= "\udcff")
    return (
        f"encoding: byte 0x{byte:02x} is not valid UTF-8; if the file is Latin-1 or cp1252 (Windows, Excel "
        f"exports), convert it to UTF-8 or land it through a mapping with `read: {{encoding: cp1252}}`"
    )


def _has_surrogate(s: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in s)


def _render(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue().encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")


def jsonl_header(stream, sample_lines: int = 1000) -> list[str]:
    """Keys seen in the first `sample_lines` objects, in order of first appearance."""
    seen: dict[str, None] = {}
    for i, line in enumerate(stream):
        if i >= sample_lines:
            break
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            seen.update(dict.fromkeys(obj))
    return list(seen)


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def jsonl_records(
    stream, header: list[str]
) -> Iterator[tuple[int, Sequence[str | None] | None, str | None, str | None]]:
    """Same shape as `tolerant_csv_records` for JSON Lines (record_no = line number)."""
    known = set(header)
    for no, line in enumerate(stream, start=1):
        raw = line.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
        if not raw.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            yield no, None, "encoding", raw
            continue
        except ValueError as exc:
            yield no, None, f"json_syntax: {exc}", raw
            continue
        if not isinstance(obj, dict):
            yield no, None, "json_syntax: not an object", raw
            continue
        unknown = set(obj) - known
        if unknown:
            yield no, None, f"unexpected_keys: {sorted(unknown)}", raw
            continue
        yield no, [_text(obj.get(h)) for h in header], None, None


def parquet_csv_batches(stream, batch_rows: int = 65536) -> tuple[list[str], Iterator[bytes]]:
    """Column names and CSV-encoded batches (no header) of a Parquet file, for COPY."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(stream)
    names = list(pf.schema_arrow.names)

    def batches() -> Iterator[bytes]:
        for batch in pf.iter_batches(batch_size=batch_rows):
            buf = io.BytesIO()
            pacsv.write_csv(batch, buf, write_options=pacsv.WriteOptions(include_header=False))
            yield buf.getvalue()

    return names, batches()
