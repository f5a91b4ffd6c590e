"""What a load did, per file and per source: the accounting the data team and Dagster metadata read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class LandedFile:
    """A file sitting in landing: `<landing>/<source>/<YYYY-MM-DD>/<name>` or `<landing>/reference/<source>/`."""  # noqa: E501

    source: str
    path: str  # full fsspec path (protocol included for remote filesystems)
    partition_date: date | None
    size: int


@dataclass(frozen=True)
class Rejection:
    """Why a whole file did not load: the rule about its content it broke, and where (line 1 = header)."""

    rule: str
    message: str  # what is wrong, without the path
    column: str | None = None
    line: int | None = None

    def text(self, path: str) -> str:
        """The message the data team reads: file, line, column, what and rule."""
        where = "".join([f"line {self.line}, " if self.line else "",
                         f"column {self.column!r}: " if self.column else ""])  # fmt: skip
        return f"{path}: {where}{self.message} (rule: {self.rule})"


@dataclass
class FileReport:
    """One file's outcome. status: loaded | duplicate (already loaded bytes) | rejected | empty."""

    path: str
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    bytes: int = 0
    error: str | None = None
    file_id: int | None = None
    rejection: Rejection | None = None
    ledger_id: int | None = None  # this attempt's row in ops.load_ledger
    far_outside: int = 0  # loaded events 7+ days from the partition's day
    preview: list[tuple] = field(default_factory=list)  # dry run: (line, rule, message) it would quarantine
    recorded: bool = False  # the ledger row was read back with these counts (ingest_files checks it)
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds (benchmarks read them)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined


@dataclass
class SourceReport:
    """One source's load over a partition range (or a reference snapshot)."""

    source: str
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0
    contract_version: str = ""
    pii_columns: dict[str, str] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def far_outside(self) -> int:
        return sum(f.far_outside for f in self.files)

    @property
    def rows_per_s(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    @property
    def balanced(self) -> bool:
        """Every row read is either loaded or quarantined, in every file, as recorded in the ledger."""
        return all(f.recorded and f.balanced for f in self.files)

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per load step, summed over the files."""
        out: dict[str, float] = {}
        for f in self.files:
            for step, s in f.timings.items():
                out[step] = round(out.get(step, 0.0) + s, 3)
        return out

    def files_with(self, status: str) -> list[FileReport]:
        return [f for f in self.files if f.status == status]

    def to_metadata(self) -> dict[str, int | float | str]:
        """Plain values for Dagster materialization metadata."""
        errors = [f"{f.path}: {f.error}" for f in self.files if f.error]
        return {
            "source": self.source,
            "contract_version": self.contract_version,
            "files": len(self.files),
            "files_loaded": len(self.files_with("loaded")),
            "files_duplicate": len(self.files_with("duplicate")),
            "files_rejected": len(self.files_with("rejected")),
            "files_empty": len(self.files_with("empty")),
            "rows_read": self.rows_read,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "rows_far_outside_partition": self.far_outside,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_per_s, 1),
            "balanced": str(self.balanced).lower(),
            "pii_columns": ", ".join(f"{k}:{v}" for k, v in sorted(self.pii_columns.items())),
            "errors": "\n".join(errors)[:4000],
        }
