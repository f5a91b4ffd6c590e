"""Mappings: how an outside file's columns become a source contract's columns.

Onboarding a new source means writing a mapping (YAML under `ingestion/mappings/`), not a loader: the
mapping turns the outside file into a landing file in contract shape, and the one generic loader does
the rest (contract checks, quarantine, PII, exactly-once). A mapping names its target source, how to
read the file, an optional row filter, and one rule per target column:

    from: Col            copy a column (strip: true, fix_mojibake: true, map: {a: b}, default: ...)
    const: value         a constant
    hash: [ColA, ColB]   a stable id from the listed values (prefix: ...); identical rows get equal ids,
                         so exact duplicates surface as duplicate keys in quarantine
    row_id: prefix       prefix + record number (for rows that are legitimately identical)
    skills: [ColA, ...]  canonical O*NET skill names found in the text (taxonomy.extract_skills), `;`-joined
    fn: name             a named transform below with `args` (dates in US formats, durations, ...)

A `from` rule may also clean the value, in this order: `strip`, `fix_mojibake`, `regex_extract: pattern`
(the first group, or the whole match; no match → empty), `regex_replace: [pattern, replacement]`,
`split: {sep: ",", index: 0}` (one part of a delimited value), `map`, `lower`.

`read:` says how to read the file: `format` (csv, json, jsonl, parquet; default from the extension),
`encoding` (default utf-8), `na_values` (file-wide markers of a missing value: `["N/A", "-", "?"]`),
`records` (JSON: the key holding the list of records, when the file is an object, not an array).
Mappings are looked up in the folders of the setting `KAIROO_MAPPING_DIRS` first, then in the package.

The adapters run in pandas: they exist for the small public files in ../shared/data. Production
sources deliver in contract shape (or through a mapping on a streaming reader, same rules).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from ingestion.contracts import load_contract

MAPPING_DIR = Path(__file__).resolve().parent / "mappings"

_MOJIBAKE = re.compile(r"[\u00c2-\u00f4][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u20ac\u2122]+")
# cp1252 encodes some C1 positions as these characters; map them back to their byte when re-encoding.
_CP1252 = {
    ch: bytes([b]) for b in range(0x80, 0xA0) for ch in [bytes([b]).decode("cp1252", errors="ignore")] if ch
}


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1/cp1252 (`NaÃ¯ve` → `Naïve`); leaves text that does not decode alone."""
    if not isinstance(text, str) or ("Ã" not in text and "Â" not in text and "â" not in text):
        return text

    def repair(m: re.Match[str]) -> str:
        raw = b"".join(_CP1252.get(ch) or ch.encode("latin-1", errors="strict") for ch in m.group(0))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return m.group(0)

    try:
        return _MOJIBAKE.sub(repair, text)
    except UnicodeEncodeError:
        return text


def us_date(value, pivot_year: int = 2026) -> str | None:
    """`07/10/1983`, `3/30/2015` or `09/19/88` → ISO date; two-digit years never land in the future."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or not str(value).strip():
        return None
    s = str(value).strip()
    for fmt in ("%m/%d/%Y", "%m/%d/%y"):
        try:
            d = datetime.strptime(s, fmt).date()
        except ValueError:
            continue
        if fmt == "%m/%d/%y" and d.year > pivot_year:
            d = d.replace(year=d.year - 100)
        return d.isoformat()
    return s  # unparsable: the contract check quarantines it with the value shown


def oulad_time(presentation: str, day_offset) -> str | None:
    """OULAD days are relative to the presentation start (`2013J` = October 2013, `2014B` = February 2014)."""
    try:
        offset = int(str(day_offset).strip())
    except ValueError:
        return str(day_offset)  # '?' stays visible and is quarantined as an unparsable timestamp
    year, term = int(presentation[:4]), presentation[4:]
    start = date(year, 10, 1) if term == "J" else date(year, 2, 1)
    return f"{start + timedelta(days=offset)}T12:00:00Z"


def coursera_hours(value) -> float | None:
    """`1 - 3 Months` → hours at 10 h/week (midpoint); `Less Than 2 Hours` → 2."""
    s = str(value or "").strip().lower()
    nums = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", s)]
    if not nums:
        return None
    mid = sum(nums) / len(nums)
    if "month" in s:
        return round(mid * 4.345 * 10, 1)
    if "week" in s:
        return round(mid * 10, 1)
    return mid


def _norm_space(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return re.sub(r"\s+", " ", str(value)).strip() or None


FUNCTIONS: dict[str, Callable] = {
    "us_date": us_date,
    "oulad_time": oulad_time,
    "coursera_hours": coursera_hours,
    "normalize_space": _norm_space,
    "zip5": lambda v: None if pd.isna(v) or str(v).strip() == "" else str(int(float(v))).zfill(5),
    "divide": lambda v, by: None if pd.isna(v) or str(v).strip() == "" else round(float(v) / float(by), 2),
    "concat": lambda *vals, sep="-": sep.join(str(v).strip() for v in vals),
}


def mapping_path(name: str, dirs: tuple[Path, ...] = ()) -> Path:
    """The mapping file `name`.yaml: the first of `dirs` (a team's folders) having it, else the package's."""
    for folder in (*dirs, MAPPING_DIR):
        path = Path(folder) / f"{name}.yaml"
        if path.exists():
            return path
    raise ValueError(f"no mapping {name!r} in {[str(d) for d in (*dirs, MAPPING_DIR)]}")


@cache
def _load(path: Path, mtime: float) -> dict:
    return yaml.safe_load(path.read_text())


def load_mapping(name: str, dirs: tuple[Path, ...] = ()) -> dict:
    path = mapping_path(name, tuple(dirs))
    return _load(path, path.stat().st_mtime)


def all_mappings(dirs: tuple[Path, ...] = ()) -> list[str]:
    return sorted({p.stem for d in (*dirs, MAPPING_DIR) for p in Path(d).glob("*.yaml")})


def _stable_id(values: list, prefix: str) -> str:
    joined = "\x1f".join("" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in values)
    return prefix + hashlib.sha1(joined.encode()).hexdigest()[:16]


def _extract(rx: re.Pattern[str], value):
    if not isinstance(value, str):
        return value
    m = rx.search(value)
    if not m:
        return None
    return (m.group(1) if rx.groups else m.group(0)).strip()


def _part(value, sep: str, index: int):
    if not isinstance(value, str):
        return value
    parts = value.split(sep)
    return parts[index].strip() if -len(parts) <= index < len(parts) else None


def _column(frame: pd.DataFrame, rule: dict, target: str) -> pd.Series:
    n = len(frame)
    if "const" in rule:
        return pd.Series([rule["const"]] * n, index=frame.index, dtype=object)
    if "row_id" in rule:
        return pd.Series([f"{rule['row_id']}{i + 1}" for i in range(n)], index=frame.index, dtype=object)
    if "hash" in rule:
        cols = rule["hash"]
        return pd.Series(
            [_stable_id(list(vals), rule.get("prefix", "")) for vals in frame[cols].itertuples(index=False)],
            index=frame.index,
            dtype=object,
        )
    if "skills" in rule:
        from taxonomy import extract_skills_many

        texts = frame[rule["skills"]].fillna("").astype(str).agg("\n".join, axis=1).map(fix_mojibake)
        return pd.Series(
            [";".join(s) for s in extract_skills_many(list(texts))], index=frame.index, dtype=object
        )
    if "fn" in rule:
        fn = FUNCTIONS[rule["fn"]]
        args = rule.get("args", [])
        kwargs = rule.get("kwargs", {})
        cols = [frame[a] if isinstance(a, str) and a in frame.columns else a for a in args]
        series = [c if isinstance(c, pd.Series) else pd.Series([c] * n, index=frame.index) for c in cols]
        return pd.Series(
            [fn(*vals, **kwargs) for vals in zip(*series, strict=True)], index=frame.index, dtype=object
        )
    if "from" in rule:
        s = frame[rule["from"]].astype(object)
        if rule.get("strip"):
            s = s.map(_norm_space)
        if rule.get("fix_mojibake"):
            s = s.map(fix_mojibake)
        if "regex_extract" in rule:
            rx = re.compile(rule["regex_extract"])
            s = s.map(lambda v: _extract(rx, v))
        if "regex_replace" in rule:
            pattern, replacement = rule["regex_replace"]
            rx = re.compile(pattern)
            s = s.map(lambda v: rx.sub(replacement, v).strip() if isinstance(v, str) else v)
        if "split" in rule:
            sep, index = rule["split"].get("sep", ","), int(rule["split"].get("index", 0))
            s = s.map(lambda v: _part(v, sep, index))
        if "map" in rule:
            mapping = {str(k): v for k, v in rule["map"].items()}
            default = rule.get("default", "__keep__")
            s = s.map(lambda v: mapping.get(str(v), v if default == "__keep__" else default))
        if rule.get("lower"):
            s = s.map(lambda v: v.lower() if isinstance(v, str) else v)
        return s
    raise ValueError(f"mapping rule for {target!r} has no known operation: {rule}")


# Landing column naming the record's physical line in the user's own file (the loader puts it in messages).
ORIGIN_LINE = "_origin_line"
ORIGIN_FILE = "_origin_file"


class MappingError(ValueError):
    """An outside file cannot be read through its mapping; the message names the file, line and fix."""


def _first_bad_byte(path: Path, encoding: str) -> tuple[int, int]:
    """(physical line, byte value) of the first byte that does not decode in `encoding`."""
    with open(path, "rb") as f:
        for no, line in enumerate(f, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                return no, line[exc.start]
    return 0, 0


def input_format(path: Path, read: dict) -> str:
    fmt = read.get("format")
    if fmt:
        return str(fmt)
    suffix = Path(path).suffix.lower()
    return {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}.get(suffix, "csv")


def _as_text(frame: pd.DataFrame, na: list[str]) -> pd.DataFrame:
    """Every value as text (None stays missing; nested values as JSON), file-wide NA markers → missing."""
    import json

    def text(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        v = str(v)
        return None if v in na else v

    return frame.astype(object).apply(lambda col: col.map(text)) if len(frame.columns) else frame


def _physical_lines(path: Path, encoding: str) -> list[int]:
    """The physical line each CSV record starts on (the header is line 1), quoted line breaks included."""
    import csv

    starts = []
    with open(path, encoding=encoding, newline="") as f:
        reader = csv.reader(f)
        end = 0
        for _ in reader:
            starts.append(end + 1)
            end = reader.line_num
    return starts[1:]


def _read_frame(name: str, path: Path, read: dict) -> pd.DataFrame:
    """The outside file as text columns, with `_origin_line`: the record's physical line in the file
    (CSV: counting the header as line 1; JSON Lines: its line; JSON and Parquet: the record number)."""
    import json

    encoding = read.get("encoding", "utf-8-sig")
    na = [""] + [str(v) for v in read.get("na_values", [])]
    fmt = input_format(path, read)
    try:
        if fmt == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=na, encoding=encoding)
            lines = _physical_lines(path, encoding)
            frame["_origin_line"] = lines if len(lines) == len(frame) else range(2, len(frame) + 2)
            return frame
        if fmt == "jsonl":
            rows, numbers = [], []
            with open(path, encoding=encoding) as f:
                for no, line in enumerate(f, start=1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                        except ValueError as exc:
                            raise MappingError(
                                f"{path}: line {no}: not a JSON object: {exc} (rule: json_syntax)"
                            ) from exc
                        numbers.append(no)
            frame = _as_text(pd.DataFrame.from_records(rows), na)
            frame["_origin_line"] = numbers
            return frame
        if fmt == "json":
            with open(path, encoding=encoding) as f:
                try:
                    doc = json.load(f)
                except ValueError as exc:
                    raise MappingError(f"{path}: not valid JSON: {exc} (rule: json_syntax)") from exc
            if isinstance(doc, dict):
                key = read.get("records") or next((k for k, v in doc.items() if isinstance(v, list)), None)
                if key is None:
                    raise MappingError(
                        f"{path}: a JSON object without a list of records; set `read: {{records: <key>}}`"
                    )
                doc = doc[key]
            frame = _as_text(pd.DataFrame.from_records(doc), na)
            frame["_origin_line"] = range(1, len(frame) + 1)
            return frame
        if fmt == "parquet":
            frame = _as_text(pd.read_parquet(path), na)
            frame["_origin_line"] = range(1, len(frame) + 1)
            return frame
    except UnicodeDecodeError as exc:
        bad_line, byte = _first_bad_byte(path, encoding)
        raise MappingError(
            f"{path}: line {bad_line}: byte 0x{byte:02x} is not valid {encoding} (rule: encoding). "
            f"If the file is in another encoding, say so in the mapping {name!r}: "
            f"`read: {{encoding: cp1252}}` (Windows and Excel exports; `latin-1` also decodes every byte)"
        ) from exc
    raise MappingError(f"{path}: unknown input format {fmt!r} (csv, json, jsonl, parquet)")


def apply_mapping(name: str, files: dict[str, Path], dirs: tuple[Path, ...] = ()) -> pd.DataFrame:
    """The outside file(s) as a frame with exactly the target contract's columns (unmapped ones empty).

    A row repeating the header (concatenated exports) is written as the landing header again, so the
    loader quarantines it under its own rule (`repeated_header`) instead of loading it as data.
    """
    spec = load_mapping(name, dirs)
    read = spec.get("read", {})
    main = files[spec.get("input", "main")]
    frame = _read_frame(name, Path(main), read)
    origin = frame.pop("_origin_line")
    frame.columns = [str(c).strip() for c in frame.columns]
    header_rows = (
        frame.apply(lambda col: col.str.strip() == col.name).all(axis=1) if len(frame.columns) else origin < 0
    )
    for column, allowed in (spec.get("where") or {}).items():
        frame = frame[frame[column].isin([str(a) for a in allowed]) | header_rows]
        header_rows = header_rows[frame.index]
    contract = load_contract(spec["target"])
    unknown = set(spec["columns"]) - set(contract.names)
    if unknown:
        raise ValueError(f"mapping {name}: columns not in contract {spec['target']}: {sorted(unknown)}")
    data = frame[~header_rows]
    out = pd.DataFrame(index=data.index, columns=contract.names, dtype=object)
    if len(data):
        for target in contract.names:
            rule = spec["columns"].get(target)
            out[target] = _column(data, rule, target) if rule is not None else None
    if header_rows.any():
        full = pd.DataFrame(index=frame.index, columns=contract.names, dtype=object)
        full.loc[data.index] = out
        full.loc[header_rows[header_rows].index] = contract.names
        out = full
    out[ORIGIN_FILE] = str(Path(main).resolve())
    out[ORIGIN_LINE] = origin[out.index].astype(int)
    return out.reset_index(drop=True)


def landed_name(name: str, source_file: Path) -> str:
    """The landing file name of one outside file: the mapping, the file's name and a digest of its path.

    Two exports mapped for the same source and day never overwrite each other; mapping the same file
    again (a corrected export) lands under the same name, so the loader replaces its older version.
    """
    path = Path(source_file).resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)[:80]
    return f"{name}__{stem}-{digest}.csv"


def _write(frame: pd.DataFrame, fs, folder: str, name: str) -> str:
    import fsspec

    fs.makedirs(folder, exist_ok=True)
    path = f"{folder}/{name}"
    with fsspec.open(
        fs.unstrip_protocol(path) if fs.protocol not in ("file", ("file", "local")) else path, "w"
    ) as f:
        frame.to_csv(f, index=False)
    return path


def land_mapped(
    name: str,
    files: dict[str, Path] | Path,
    landing_url: str,
    day: date | None = None,
    dirs: tuple[Path, ...] = (),
) -> str:
    """Write the mapped file into landing (`<source>/<day>/` or `reference/<source>/`); return its path."""
    return land_mapped_days(name, files, landing_url, day, dirs, by_day=False)[day]


def land_mapped_days(
    name: str,
    files: dict[str, Path] | Path,
    landing_url: str,
    day: date | None = None,
    dirs: tuple[Path, ...] = (),
    *,
    by_day: bool = True,
) -> dict[date | None, str]:
    """Land a mapped file; with `by_day`, one landing file per day of the contract's event time (UTC),
    so a history log backfills its own partitions. Rows without a readable event time land in `day`
    (the loader quarantines them with the value shown). Returns {day: landed path}."""
    from ingestion.readers import landing_fs

    if isinstance(files, Path):
        files = {"main": files}
    spec = load_mapping(name, dirs)
    frame = apply_mapping(name, files, dirs)
    contract = load_contract(spec["target"])
    fs, root = landing_fs(landing_url)
    file_name = landed_name(name, files[spec.get("input", "main")])
    if contract.reference:
        return {day: _write(frame, fs, f"{root}/reference/{contract.source}", file_name)}
    if not (by_day and contract.event_time):
        if day is None:
            raise ValueError(f"mapping {name}: a partitioned source needs a day (or by_day for events)")
        return {day: _write(frame, fs, f"{root}/{contract.source}/{day}", file_name)}
    when = pd.to_datetime(frame[contract.event_time], utc=True, errors="coerce", format="ISO8601")
    days = when.dt.date.where(when.notna(), day)
    if days.isna().any():
        raise MappingError(f"{files['main']}: {int(days.isna().sum())} records without a readable "
                           f"{contract.event_time}: give a day for them")  # fmt: skip
    out: dict[date | None, str] = {}
    for d, part in frame.groupby(days, sort=True):
        out[d] = _write(part, fs, f"{root}/{contract.source}/{d}", file_name)
    return out
