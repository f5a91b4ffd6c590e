"""Pure SQL builders of the per-file load: from a file's plan (how its columns meet the contract) to the
expressions the loader runs over the temporary landing table `_landing l`.

Nothing here touches a connection: every function returns SQL text, so each rule can be read and unit
tested on its own. The loader (ingestion/loader.py) runs them; the bookkeeping writes
(ingestion/bookkeeping.py) use the quarantine masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion import pii
from ingestion.contracts import Column, Contract

# Classes whose values must never reach raw (an undeclared column of this class goes to the vault).
VAULT_CLASSES = {"direct", "identifier", "sensitive", "free_text"}
FUTURE_TOLERANCE = "1 hour"  # clock skew between senders and the warehouse
QUARANTINE_TEXT_CHARS = 10_000

# Columns a mapping adds to a landed file: the user's own file and the record's physical line in it.
ORIGIN_COLUMNS = ("_origin_file", "_origin_line")

PG_TYPES = {
    "integer": "integer",
    "numeric": "numeric",
    "timestamptz": "timestamp with time zone",
    "date": "date",
    "boolean": "boolean",
}


@dataclass
class Plan:
    """How one file's columns meet the contract."""

    contract: Contract
    header: list[str]  # file column names, in file order
    line_offset: int  # line = _rec + line_offset (1 for CSV: the header is line 1)
    pos: dict[str, int] = field(default_factory=dict)  # contract column -> landing column index
    extras: dict[str, str] = field(default_factory=dict)  # undeclared column -> PII class
    truncated: bool = False  # a CSV without a final line break: its last record is suspect
    redacted: dict[str, str] = field(default_factory=dict)  # column -> landing column of its redacted value
    origin: dict[str, str] = field(default_factory=dict)  # _origin_file / _origin_line -> landing column

    @classmethod
    def of(cls, contract: Contract, header: list[str], line_offset: int) -> Plan:
        plan = cls(contract, header, line_offset)
        known = set(contract.names)
        for i, h in enumerate(header):
            if h in known and h not in plan.pos:
                plan.pos[h] = i
            elif h in ORIGIN_COLUMNS:
                plan.origin[h] = f"l.f{i}"
        return plan

    def undeclared(self) -> list[str]:
        """File columns the contract does not know (the origin columns of a mapped file excepted)."""
        return [h for h in self.header if h not in self.pos and h not in ORIGIN_COLUMNS]

    def origin_sql(self) -> str:
        """SQL text ' (from <user file> line N)' for a mapped file's rows, '' otherwise."""
        if len(self.origin) < 2:
            return "''"
        return (f"coalesce(' (from ' || {self.origin['_origin_file']} || ' line ' || "
                f"{self.origin['_origin_line']} || ')', '')")  # fmt: skip

    def col(self, name: str) -> str | None:
        """Landing column reference (l.fN) for a contract column, or None when the file lacks it."""
        i = self.pos.get(name)
        return None if i is None else f"l.f{i}"

    def col_extra(self, name: str) -> str:
        """Landing column reference of an undeclared column."""
        return f"l.f{self.header.index(name)}"


def lit(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def typed_sql(ref: str | None, column: Column) -> str:
    """The typed value of a landing text column (empty → null); NULL when the file lacks the column."""
    if ref is None:
        return "null"
    if column.type == "text":
        return f"nullif({ref}, '')"
    # the input functions of these types accept surrounding blanks; a blank-only value fails the checks
    return f"nullif({ref}, '')::{PG_TYPES[column.type]}"


def valid_input_sql(ref: str, pg_type: str) -> str:
    """True when `ref` (text) is a valid input of `pg_type`: `pg_input_is_valid` (PostgreSQL 16+)."""
    return f"pg_input_is_valid({ref}, '{pg_type}')"


def valid_input_sql_15(ref: str, pg_type: str) -> str:
    """The same predicate on PostgreSQL 15 (no pg_input_is_valid): a cast in an exception block."""
    return f"ops.input_is_valid({ref}, '{pg_type}')"


def cast_probe_sql(plan: Plan, column: Column) -> str:
    """A query that casts every present value of a typed column and fails on the first invalid one."""
    ref = plan.col(column.name)
    return (
        f"select count(({ref})::{PG_TYPES[column.type]}) from _landing l where _bad is null and {ref} <> ''"
    )


def check_cases(plan: Plan, valid=valid_input_sql) -> list[str]:
    """`when <violation> then array[rule, column, message]` for every contract rule, in priority order.

    Predicates are chosen for speed on millions of rows: no trim per value, `octet_length` (free) before
    `length` (counts characters), `pg_input_is_valid` (measured 3-5× faster than an equivalent regex).
    `valid` builds the type-validity predicate (the server's capabilities decide which one).
    """
    out: list[str] = []
    if plan.header and plan.line_offset == 1:  # CSV: concatenated exports repeat their header row
        same = " and ".join(
            f"l.f{i} = {lit(h)}" for i, h in enumerate(plan.header) if h not in ORIGIN_COLUMNS
        )
        out.append(
            f"when {same} then array['repeated_header', null, 'the header row again (concatenated files?)']"
        )
    for c in plan.contract.columns:
        ref = plan.col(c.name)
        if ref is None:
            continue
        name = lit(c.name)
        present = f"{ref} <> ''"
        if c.required:
            blank = f"coalesce({ref}, '') = ''" if c.type != "text" else f"btrim(coalesce({ref}, '')) = ''"
            out.append(f"when {blank} then array['missing_required', {name}, 'required value is empty']")
        if c.max_length:
            n = int(c.max_length)
            out.append(
                f"when octet_length({ref}) > {n} and length({ref}) > {n} then array['max_length', {name}, "
                f"'value of ' || length({ref}) || ' characters exceeds {n}']"
            )
        if c.type != "text":
            rule = "timestamp_unparsable" if c.type in ("timestamptz", "date") else "type"
            out.append(
                f"when {present} and not {valid(ref, PG_TYPES[c.type])} then "
                f"array['{rule}', {name}, 'not a valid {c.type}: ' || left({ref}, 80)]"
            )
            if c.type in ("timestamptz", "date"):
                # PostgreSQL also accepts 'yesterday', 'now', 'epoch', 'infinity' (seen in the generator's
                # faults): a signal's time must be written out, so it has to start with a digit.
                out.append(
                    f"when {present} and not left(btrim({ref}), 1) between '0' and '9' then "
                    f"array['{rule}', {name}, 'not an explicit {c.type}: ' || left({ref}, 80)]"
                )
        if c.not_future and c.type in ("timestamptz", "date"):
            out.append(
                f"when {present} and {ref}::{PG_TYPES[c.type]} > statement_timestamp() + interval "
                f"'{FUTURE_TOLERANCE}' then array['future_timestamp', {name}, 'in the future: ' || left({ref}, 80)]"  # noqa: E501
            )
        if c.enum:
            values = ", ".join(lit(e) for e in c.enum)
            out.append(
                f"when {present} and {ref} not in ({values}) then "
                f"array['enum', {name}, 'not one of the allowed values: ' || left({ref}, 80)]"
            )
        if c.min is not None and c.type in ("integer", "numeric"):
            out.append(
                f"when {present} and {ref}::numeric < {c.min} then "
                f"array['range', {name}, 'below minimum {c.min}: ' || {ref}]"
            )
        if c.max is not None and c.type in ("integer", "numeric"):
            out.append(
                f"when {present} and {ref}::numeric > {c.max} then "
                f"array['range', {name}, 'above maximum {c.max}: ' || {ref}]"
            )
    return out


def pseudo_ref(column: str) -> str:
    """The pseudonym of a landing row's identifier column (from the per-file map joined in `from_sql`)."""
    return f"pm_{column}.p"


def from_sql(plan: Plan) -> str:
    """FROM clause over the landing table with the key pads and one pseudonym map per identifier."""
    joins = [
        f"left join _pm_{c.name} pm_{c.name} on pm_{c.name}.o = {plan.col(c.name)}"
        for c in plan.contract.columns
        if c.pseudonym and plan.col(c.name)
    ]
    return " ".join(["_landing l cross join _k", *joins])


def pseudonym_map_sql(plan: Plan, column: Column) -> str:
    """CREATE of the per-file map distinct original → HMAC pseudonym of one identifier column."""
    ref = plan.col(column.name)
    return (
        f"create temp table _pm_{column.name} on commit drop as "
        f"select d.o, case when btrim(d.o) = '' then null else {pii.pseudonym_sql('d.o')} end as p "
        f"from (select distinct {ref} as o from _landing l where {ref} is not null) d cross join _k"
    )


def key_sql(plan: Plan) -> list[tuple[str, str]]:
    """(landing-side expression, raw column) pairs that identify a record in raw."""
    pairs = []
    for k in plan.contract.key:
        c = plan.contract.column(k)
        ref = plan.col(k)
        if c.pseudonym:
            pairs.append((pseudo_ref(c.name) if ref else "null", c.pseudonym))
        else:
            pairs.append((typed_sql(ref, c), c.name))
    return pairs


def raw_select(plan: Plan) -> tuple[list[str], list[str]]:
    """Raw-table column names and the expressions that fill them from the landing table."""
    contract = plan.contract
    person = plan.col(contract.person_name) if contract.person_name else None
    person_sql = f"nullif(trim({person}), '')" if person else "null"
    names, exprs = [], []
    for c in contract.columns:
        raw_name = c.raw_name
        if raw_name is None:
            continue
        ref = plan.col(c.name)
        if c.pseudonym:
            expr = pseudo_ref(c.name) if ref else "null"
        elif c.name in plan.redacted:  # redacted in Python (null: nothing personal found)
            expr = f"coalesce({plan.redacted[c.name]}, {typed_sql(ref, c)})"
        elif c.redact:
            expr = f"ops.redact_pii({typed_sql(ref, c)}, {person_sql})"
        else:
            expr = typed_sql(ref, c)
        names.append(raw_name)
        exprs.append(expr)
    typed = {c.name: typed_sql(plan.col(c.name), c) for c in contract.columns}
    for d in contract.derived:
        names.append(d.name)
        exprs.append(d.sql.format(**typed))
    return names, exprs


def extra_json(plan: Plan, classes: set[str] | None, exclude: set[str] | None = None) -> str:
    """jsonb of the undeclared columns whose PII class is in `classes` (or not in `exclude`)."""
    cols = [
        n for n, cls in plan.extras.items()
        if (classes is None or cls in classes) and (exclude is None or cls not in exclude)
    ]  # fmt: skip
    if not cols:
        return "null::jsonb"
    args = ", ".join(f"{lit(n)}, {plan.col_extra(n)}" for n in cols)
    return f"jsonb_strip_nulls(jsonb_build_object({args}))"


def masked_row_json(plan: Plan) -> str:
    """jsonb of a landing row safe for ops.quarantine: identifiers hashed, vault-only values removed."""
    contract = plan.contract
    person = plan.col(contract.person_name) if contract.person_name else None
    parts = []
    for c in contract.columns:
        ref = plan.col(c.name)
        if ref is None:
            continue
        if c.pseudonym:
            val = pseudo_ref(c.name)
        elif c.name in plan.redacted:
            val = f"left(coalesce({plan.redacted[c.name]}, {ref}), {QUARANTINE_TEXT_CHARS})"
        elif c.redact:
            val = f"ops.redact_pii(left({ref}, {QUARANTINE_TEXT_CHARS}), {person or 'null'})"
        elif c.vault or c.pii in VAULT_CLASSES:
            val = f"case when {ref} is null then null else '[REDACTED]' end"
        else:
            val = f"left({ref}, {QUARANTINE_TEXT_CHARS})"
        parts.append(f"{lit(c.name)}, {val}")
    for n, cls in plan.extras.items():
        ref = plan.col_extra(n)
        val = f"case when {ref} is null then null else '[REDACTED]' end" if cls in VAULT_CLASSES else ref
        parts.append(f"{lit(n)}, {val}")
    return "jsonb_build_object(" + ", ".join(parts) + ")" if parts else "'{}'::jsonb"


# ops.quarantine's text of a record the reader could not split into fields: its fields cannot be told
# apart, so none can be masked by its contract; the original is only in pii_vault.quarantine_raw.
UNSPLIT_PLACEHOLDER = (
    "[withheld: the record could not be split into fields; original in pii_vault.quarantine_raw]"
)


def quarantine_text_sql(plan: Plan) -> str:
    """The masked text of a quarantined landing row for ops.quarantine (analyst-readable)."""
    masked = masked_row_json(plan)
    return f"case when l._raw is not null then {lit(UNSPLIT_PLACEHOLDER)} else ({masked})::text end"


def full_row_json(plan: Plan) -> str:
    """jsonb of a landing row with every field as delivered (the vault's copy of a quarantined row)."""
    parts = [f"{lit(h)}, l.f{i}" for i, h in enumerate(plan.header)]
    return "jsonb_build_object(" + ", ".join(parts) + ")" if parts else "'{}'::jsonb"


def landing_table_sql(ncols: int) -> str:
    """The all-text temporary landing table of a file with `ncols` columns."""
    cols = ", ".join(f'f{i} text collate "C"' for i in range(ncols))
    return (
        f"create temp table _landing (_rec bigint generated by default as identity, {cols}"
        f"{', ' if cols else ''}_bad text, _raw text) on commit drop"
    )
