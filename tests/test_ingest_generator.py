"""The generator's demo data with every fault injected, ingested: the quarantine holds exactly the
records the generator broke (by file and line), nothing else, and every clean record loads."""

from __future__ import annotations

from datetime import date

import psycopg

import ingestion
from generator import FAULTS, GeneratorConfig, generate

START, END = date(2026, 11, 1), date(2026, 11, 2)
ROW_FAULTS = {"malformed_rows", "type_errors", "future_timestamps", "duplicates_within_file",
              "duplicates_across_files", "truncated_file", "bad_encoding", "huge_field"}  # fmt: skip


def test_generator_faults_end_in_quarantine_exactly(fresh_db, tmp_path):
    landing = tmp_path / "landing"
    gen = generate(GeneratorConfig(tier="S", landing_dir=landing, oracle_dir=tmp_path / "oracle", start=START,
                                   end=END, seed=11, faults=FAULTS))  # fmt: skip
    reports = {
        s: ingestion.ingest_partition(fresh_db, s, str(landing), START, END, "k")
        for s in ingestion.PARTITIONED_SOURCES
    }
    reports["learning_modules"] = ingestion.ingest_reference(fresh_db, str(landing), "k")[0]
    assert all(r.balanced for r in reports.values())
    for source, r in reports.items():  # every generated row was read (plus the duplicates the faults added)
        added = sum(f.count for f in gen.faults if f.source == source and f.fault.startswith("duplicates"))
        assert r.rows_read == sum(f.rows for f in gen.files if f.source == source) + added, source

    expected: set[tuple[str, int]] = set()
    for fault in gen.faults:
        if fault.fault in ROW_FAULTS:
            offset = 0 if fault.path.endswith(".jsonl") else 1  # CSV: the header is line 1
            expected |= {(fault.path, rec + offset) for rec in fault.records}
    with psycopg.connect(fresh_db.conninfo()) as conn:
        prefix = len(str(landing)) + 1
        got = {
            (p[prefix:], line)
            for p, line in conn.execute("select path, line from ops.quarantine where line is not null")
        }
        assert got == expected
        rejected = conn.execute("select path, rule from ops.quarantine where line is null").fetchall()
        missing = gen.faults_of("missing_column")[0]
        assert [(p[prefix:], rule) for p, rule in rejected] == [(missing.path, "missing_required_column")]
        loaded = {r[0] for r in conn.execute("select event_id from raw.interaction_events")}
        assert set(gen.faults_of("late_events")[0].ids) <= loaded
        assert set(gen.faults_of("duplicates_across_files")[0].ids) <= loaded  # the first delivery stays
        hist = conn.execute(
            "select column_name from ops.schema_history where change = 'added_column'"
        ).fetchall()
        assert hist == [("remote_policy",)]
        empty = gen.faults_of("empty_file")[0].path
        assert conn.execute(
            "select status from ops.file_manifest where path like %s", (f"%{empty}",)
        ).fetchone() == ("empty",)
