"""Preflight: what the night needs, checked in seconds before it starts, each failure naming its setting.

Wrong settings used to be found late or never (issue #11): a missing landing folder gave a
successful night that loaded nothing; an unwritable MLflow store was found after ingestion, dbt, GX
and 79 s of training, with an error naming the path but not the setting. Every check here runs
before the first row moves, every check runs even when an earlier one failed (one run tells the
operator everything to fix), and every finding names the environment variable (or command) to fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg

from core.database import PgParams

MIN_SERVER_VERSION = 150000  # PostgreSQL 15: the oldest the warehouse's SQL runs on
# The night writes about this many times its landing bytes (raw, staging, marts, indexes, WAL).
DISK_PER_LANDED_BYTE = 4
PARTITIONED_SOURCES = ("resumes", "job_postings", "hris_employees", "interaction_events")


@dataclass(frozen=True)
class Finding:
    """One check's outcome. `level`: 'ok' | 'warn' | 'error'; `setting`: what to change to fix it."""

    check: str
    level: str
    setting: str
    message: str


@dataclass
class PreflightReport:
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warn"]

    def summary(self) -> str:
        bad = self.errors + self.warnings
        if not bad:
            return f"preflight passed: {len(self.findings)} checks in {self.seconds:.1f} s"
        return "; ".join(f"[{f.level}] {f.check}: {f.message} (setting: {f.setting})" for f in bad)


def supported_version(server_version_num: int) -> bool:
    return server_version_num >= MIN_SERVER_VERSION


def check_database(params: PgParams, timeout_s: int = 5) -> Finding:
    """The warehouse answers and runs a supported PostgreSQL."""
    try:
        with psycopg.connect(params.conninfo(), connect_timeout=timeout_s, autocommit=True) as conn:
            row = conn.execute("select current_setting('server_version_num')::int, version()").fetchone()
    except psycopg.Error as exc:
        msg = f"the warehouse database {params.dbname} on {params.host}:{params.port} does not answer: {exc}"
        return Finding("database", "error", "KAIROO_DATABASE_URL", msg)
    assert row is not None
    num, text = row
    if not supported_version(num):
        return Finding(
            "database",
            "error",
            "KAIROO_DATABASE_URL",
            f"PostgreSQL {num // 10000} is not supported (15 or newer): {text}",
        )
    return Finding("database", "ok", "KAIROO_DATABASE_URL", f"PostgreSQL {num // 10000} answers")


def check_landing(landing_url: str, days: list[date]) -> tuple[Finding, int]:
    """The landing location exists and is readable (error), and holds files for the night (warn).

    Returns the finding and the bytes landed for the night's days (for the disk estimate).
    """
    import fsspec

    setting = "KAIROO_LANDING_URL"
    try:
        fs, root = fsspec.core.url_to_fs(landing_url)
        if not fs.isdir(root):
            return Finding(
                "landing", "error", setting, f"the landing location {landing_url} does not exist"
            ), 0
        fs.ls(root)
    except Exception as exc:  # any filesystem's way of saying "cannot read"
        return Finding(
            "landing", "error", setting, f"the landing location {landing_url} is not readable: {exc}"
        ), 0
    landed = 0
    empty = []
    for day in days:
        files = []
        for source in PARTITIONED_SOURCES:
            folder = f"{root.rstrip('/')}/{source}/{day.isoformat()}"
            if fs.isdir(folder):
                files += [f for f in fs.ls(folder, detail=True) if f.get("type") == "file"]
        if not files:
            empty.append(day.isoformat())
        landed += sum(int(f.get("size") or 0) for f in files)
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        msg = (
            f"no signal files landed in {landing_url} for {shown}: the night loads nothing new for those days"
        )
        return Finding("landing", "warn", setting, msg), landed
    return Finding("landing", "ok", setting, f"{landed} bytes landed for {len(days)} day(s)"), landed


def _local_path(uri: str) -> Path | None:
    """The local path of a file or sqlite URI; None for a remote store (checked by its own server)."""
    parts = urlsplit(uri)
    if parts.scheme == "sqlite":
        return Path(unquote(uri.split(":///", 1)[1])) if ":///" in uri else None
    if parts.scheme in ("", "file"):
        return Path(unquote(parts.path or uri))
    return None


def _writable_dir(folder: Path) -> str | None:
    """None when a file can be created in `folder` (created if missing), else why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".preflight-"):
            pass
    except OSError as exc:
        return str(exc)
    return None


def check_mlflow(tracking_uri: str, artifact_root: str) -> list[Finding]:
    """The tracking store and the artifact store accept writes (the night registers a model)."""
    out = []
    for check, uri, setting in (
        ("mlflow_tracking", tracking_uri, "MLFLOW_TRACKING_URI"),
        ("mlflow_artifacts", artifact_root, "KAIROO_MLFLOW_ARTIFACTS"),
    ):
        path = _local_path(uri)
        if path is None:
            out.append(Finding(check, "ok", setting, f"{uri}: remote store, checked by its server"))
            continue
        folder = path.parent if check == "mlflow_tracking" else path
        problem = _writable_dir(folder)
        if problem is None and check == "mlflow_tracking" and path.exists() and not os.access(path, os.W_OK):
            problem = f"{path} is read-only"
        if problem:
            out.append(Finding(check, "error", setting, f"the MLflow store {uri} is not writable: {problem}"))
        else:
            out.append(Finding(check, "ok", setting, f"{uri} is writable"))
    return out


def check_manifest(project_dir: Path, manifest_path: Path) -> Finding:
    """dbt's manifest (read by the code location at load) was built from the SQL in the project now.

    A stale manifest runs yesterday's model list against today's SQL: models added since are never
    built, removed ones fail. dbt's node checksum is the sha256 of the stripped file contents.
    """
    setting = "make manifest"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        return Finding("dbt_manifest", "error", setting, f"dbt manifest {manifest_path} unreadable: {exc}")
    stale, known = [], set()
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "test", "seed", "snapshot"):
            continue
        rel = node["original_file_path"]
        if not rel.endswith(".sql"):
            continue  # generic tests live in YAML
        known.add(rel)
        path = project_dir / rel
        if not path.exists():
            stale.append(f"{rel} (removed)")
            continue
        digest = hashlib.sha256(path.read_text().strip().encode()).hexdigest()
        if digest != node["checksum"]["checksum"]:
            stale.append(f"{rel} (changed)")
    for folder in ("models", "tests", "snapshots"):
        for path in sorted((project_dir / folder).rglob("*.sql")):
            rel = path.relative_to(project_dir).as_posix()
            if rel not in known and not rel.startswith("tests/generic/"):  # generic tests are macros
                stale.append(f"{rel} (new)")
    if stale:
        shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        msg = f"dbt manifest {manifest_path} does not match the project: {shown}; rebuild it"
        return Finding("dbt_manifest", "error", setting, msg)
    return Finding("dbt_manifest", "ok", setting, f"{len(known)} SQL files match the manifest")


def check_disk(state_dir: Path, landed_bytes: int, min_free_mb: int) -> Finding:
    """Free space where the night writes (embedded database, dbt target, MLflow) covers its need."""
    need = min_free_mb * 2**20 + DISK_PER_LANDED_BYTE * landed_bytes
    probe = state_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    msg = f"{free / 2**20:.0f} MB free under {state_dir}, the night needs {need / 2**20:.0f} MB"
    if free < need:
        return Finding(
            "disk", "error", "KAIROO_STATE_DIR", msg + " (free space there or move the state folder)"
        )
    return Finding("disk", "ok", "KAIROO_STATE_DIR", msg)


def run_preflight(
    params: PgParams,
    *,
    landing_url: str,
    days: list[date],
    mlflow_tracking_uri: str,
    mlflow_artifact_root: str,
    dbt_project_dir: Path,
    dbt_manifest_path: Path,
    state_dir: Path,
    min_free_mb: int,
) -> PreflightReport:
    """Every check, in seconds; the report lists each finding with the setting to fix."""
    began = time.perf_counter()
    report = PreflightReport()
    report.findings.append(check_database(params))
    landing, landed = check_landing(landing_url, days)
    report.findings.append(landing)
    report.findings.extend(check_mlflow(mlflow_tracking_uri, mlflow_artifact_root))
    report.findings.append(check_manifest(dbt_project_dir, dbt_manifest_path))
    report.findings.append(check_disk(state_dir, landed, min_free_mb))
    report.seconds = time.perf_counter() - began
    return report
