"""Signal ingestion: landed files → raw.* under versioned contracts, exactly once, PII-safe.

Public API (the Dagster assets in assets/ call these; nothing here imports dagster):

- `PARTITIONED_SOURCES`, `REFERENCE_SOURCES`
- `ingest_partition(params, source, landing_url, start, end, pii_key) -> SourceReport`
- `ingest_reference(params, landing_url, pii_key) -> list[SourceReport]`
- `pending_files(params, landing_url) -> list[LandedFile]`
- `SourceReport` / `FileReport` / `LandedFile`, `SourceReport.to_metadata()`
- `RecordingError`: a file's outcome could not be recorded (the load fails, naming the file); a
  transient database error (`psycopg.OperationalError`) propagates as is, for the step's retry
"""

from __future__ import annotations

import hashlib
import io
from datetime import date

import psycopg

from core.database import PgParams
from ingestion.bookkeeping import RecordingError
from ingestion.contracts import Contract, load_contract
from ingestion.loader import IngestError, ingest_file, ingest_files
from ingestion.readers import partition_files, reference_files
from ingestion.report import FileReport, LandedFile, SourceReport

PARTITIONED_SOURCES: tuple[str, ...] = ("resumes", "job_postings", "hris_employees", "interaction_events")
REFERENCE_SOURCES: tuple[str, ...] = ("learning_modules", "onet_occupations", "onet_skills")

__all__ = [
    "PARTITIONED_SOURCES",
    "REFERENCE_SOURCES",
    "Contract",
    "FileReport",
    "IngestError",
    "LandedFile",
    "RecordingError",
    "SourceReport",
    "ingest_file",
    "ingest_partition",
    "ingest_reference",
    "load_contract",
    "pending_files",
]


def ingest_partition(
    params: PgParams, source: str, landing_url: str, start: date, end: date, pii_key: str
) -> SourceReport:
    """Load every file delivered into `<landing>/<source>/<day>/` for each day in [start, end].

    Safe to re-run (files already loaded are recognised by checksum and load nothing) and safe against
    re-delivery (the same bytes under another name are a `duplicate`). Bad files and rows end in
    ops.quarantine with file, line and rule; the report's `balanced` says every row is accounted for.
    """
    if source not in PARTITIONED_SOURCES:
        raise ValueError(f"{source!r} is not a partitioned source (one of {PARTITIONED_SOURCES})")
    files = partition_files(landing_url, source, start, end)
    return ingest_files(params, source, files, pii_key, landing_url=landing_url)


def ingest_reference(params: PgParams, landing_url: str, pii_key: str) -> list[SourceReport]:
    """Load the reference snapshots: the latest learning-module catalogue and the shipped O*NET tables.

    Each snapshot replaces its raw table in one transaction; an unchanged snapshot loads nothing.
    """
    files = reference_files(landing_url, "learning_modules")
    reports = [ingest_files(params, "learning_modules", files[-1:], pii_key, landing_url=landing_url,
                            replace_all=True)]  # fmt: skip
    for source, frame in _onet_frames().items():
        landed = _memory_file(source, frame)
        reports.append(ingest_files(params, source, [landed], pii_key, replace_all=True))
    return reports


def pending_files(params: PgParams, landing_url: str) -> list[LandedFile]:
    """Files in landing that the manifest has not seen yet (path and size), for a Dagster sensor."""
    found: list[LandedFile] = []
    for source in PARTITIONED_SOURCES:
        found += partition_files(landing_url, source, date.min, date.max)
    found += reference_files(landing_url, "learning_modules")
    if not found:
        return []
    with psycopg.connect(params.conninfo()) as conn:
        seen = set(conn.execute("select source, path, size_bytes from ops.file_manifest").fetchall())
    return [f for f in found if (f.source, f.path, f.size) not in seen]


def _onet_frames() -> dict:
    import taxonomy

    return {"onet_occupations": taxonomy.occupations(), "onet_skills": taxonomy.occupation_skills()}


def _memory_file(source: str, frame) -> LandedFile:
    """Put a DataFrame in fsspec's memory filesystem as CSV so it goes through the same loader."""
    import fsspec

    import taxonomy

    contract = load_contract(source)
    buf = io.StringIO()
    frame[contract.names].to_csv(buf, index=False)
    data = buf.getvalue().encode()
    digest = hashlib.sha256(data).hexdigest()[:12]
    path = f"memory://kairoo-taxonomy/onet-{taxonomy.ONET_VERSION}/{source}-{digest}.csv"
    with fsspec.open(path, "wb") as f:
        f.write(data)
    return LandedFile(source, path, None, len(data))
