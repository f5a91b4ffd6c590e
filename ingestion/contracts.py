"""Source contracts: what each signal must look like before it may enter the warehouse.

A contract (YAML under `ingestion/contracts/`, versioned) lists the columns a delivery must carry, their
types, which are required, the record key, the PII class of each column and where each one goes:
raw as is, raw as a keyed-hash pseudonym (identifiers), raw redacted plus the original in the vault
(free text), or the vault only (direct personal data). Onboarding a source means writing a contract;
the loader is generic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

CONTRACT_DIR = Path(__file__).resolve().parent / "contracts"

TYPES = ("text", "integer", "numeric", "timestamptz", "date", "boolean")
PII_CLASSES = ("none", "identifier", "direct", "quasi", "sensitive", "free_text")


class ContractError(ValueError):
    """A contract file itself is malformed (a programming error, not bad input data)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "text"
    required: bool = False
    pii: str = "none"
    enum: tuple[str, ...] | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    not_future: bool = False
    pseudonym: str | None = None  # raw column holding HMAC(value); the original goes to the vault
    identifier_kind: str | None = None
    vault: bool = False  # the original value is kept in the contract's vault table
    redact: bool = False  # free text: raw gets the value with personal data redacted
    safe: bool = False  # declared free of personal data: a person-bearing source does not redact it

    @property
    def raw_name(self) -> str | None:
        """Column name in the raw table, or None when the value lives only in the vault."""
        if self.pseudonym:
            return self.pseudonym
        if self.vault and not self.redact:
            return None
        return self.name


@dataclass(frozen=True)
class Derived:
    name: str
    sql: str  # expression with {column} placeholders standing for the typed value


@dataclass(frozen=True)
class Contract:
    source: str
    version: str
    table: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    derived: tuple[Derived, ...] = ()
    vault_table: str | None = None
    vault_key: tuple[str, ...] = ()
    person_name: str | None = None
    reference: bool = False
    event_time: str | None = None  # the column that places a record in time (events land per its day)
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def raw_columns(self) -> list[str]:
        """Business columns of the raw table, in contract order (derived last)."""
        cols = [c.raw_name for c in self.columns if c.raw_name]
        return cols + [d.name for d in self.derived]

    def vault_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.vault]

    @property
    def person_bearing(self) -> bool:
        """The source describes people (it has direct or sensitive personal columns): resumes, HRIS."""
        return any(c.pii in ("direct", "sensitive") for c in self.columns)

    def redacted(self) -> list[Column]:
        """Columns whose raw value is redacted in Python (ingestion/redact.py): the declared free text of a
        person-bearing source and every other text column of it not declared `safe` (a phone number in
        a headline is still a phone number). Other sources' `redact` columns use ops.redact_pii in SQL."""
        if not self.person_bearing:
            return []
        return [
            c for c in self.columns
            if c.type == "text" and c.raw_name == c.name and not c.safe and not c.enum
            and c.name not in self.key and (c.redact or c.pii in ("none", "free_text", "quasi"))
        ]  # fmt: skip

    def pii_classes(self) -> dict[str, str]:
        """Declared PII class of every column that is not `none`."""
        return {c.name: c.pii for c in self.columns if c.pii != "none"}


def parse_contract(doc: dict) -> Contract:
    """Build a Contract from its YAML document, checking the document itself."""
    try:
        cols = []
        for spec in doc["columns"]:
            spec = dict(spec)
            if spec.get("type", "text") not in TYPES:
                raise ContractError(f"{doc['source']}.{spec['name']}: unknown type {spec.get('type')!r}")
            if spec.get("pii", "none") not in PII_CLASSES:
                raise ContractError(f"{doc['source']}.{spec['name']}: unknown PII class {spec.get('pii')!r}")
            if spec.get("enum") is not None:
                spec["enum"] = tuple(str(v) for v in spec["enum"])
            cols.append(Column(**spec))
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            raise ContractError(f"{doc['source']}: duplicate column names")
        for k in doc["key"]:
            if k not in names:
                raise ContractError(f"{doc['source']}: key column {k!r} is not a column")
        return Contract(
            source=doc["source"],
            version=str(doc["version"]),
            table=doc["table"],
            key=tuple(doc["key"]),
            columns=tuple(cols),
            derived=tuple(Derived(**d) for d in doc.get("derived", [])),
            vault_table=doc.get("vault_table"),
            vault_key=tuple(doc.get("vault_key", ())),
            person_name=doc.get("person_name"),
            reference=bool(doc.get("reference", False)),
            event_time=doc.get("event_time"),
        )
    except (KeyError, TypeError) as exc:
        raise ContractError(f"contract {doc.get('source', '?')}: {exc}") from exc


@cache
def load_contract(source: str) -> Contract:
    """The current contract of `source` (ingestion/contracts/<source>.yaml)."""
    path = CONTRACT_DIR / f"{source}.yaml"
    if not path.exists():
        raise ContractError(f"no contract for source {source!r} ({path})")
    return parse_contract(yaml.safe_load(path.read_text()))


def all_sources() -> list[str]:
    return sorted(p.stem for p in CONTRACT_DIR.glob("*.yaml"))
