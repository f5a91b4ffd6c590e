"""The late-file sensor: files landing for a completed day re-run that day; today's wait for 02:00."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from orchestration.sensors import late_signal_files
from runtime.resources import SignalsResource, WarehouseResource

HEADER = "event_id,user_id,event_type,item_type,item_id,occurred_at,duration_s,progress_pct,session_id\n"


def _land(landing, day: date, name: str) -> None:
    folder = landing / "interaction_events" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(HEADER + f"e-{name},u1,job_view,job,j1,{day}T10:00:00Z,,,s1\n")


def test_late_files_request_a_rerun_of_their_day(fresh_db, tmp_path):
    landing = tmp_path / "landing"
    today = datetime.now(UTC).date()
    late_day = today - timedelta(days=3)
    _land(landing, late_day, "late.csv")
    _land(landing, today, "today.csv")
    resources = {
        "warehouse": WarehouseResource(database_url=fresh_db.conninfo(), state_dir=str(tmp_path)),
        "signals": SignalsResource(landing_url=str(landing), pii_key="test-key"),
    }
    with dg.build_sensor_context(resources=resources) as context:
        result = late_signal_files(context)
    assert [r.partition_key for r in result.run_requests] == [late_day.isoformat()]


def test_nothing_late_means_skip(fresh_db, tmp_path):
    landing = tmp_path / "landing"
    _land(landing, datetime.now(UTC).date(), "today.csv")
    resources = {
        "warehouse": WarehouseResource(database_url=fresh_db.conninfo(), state_dir=str(tmp_path)),
        "signals": SignalsResource(landing_url=str(landing), pii_key="test-key"),
    }
    with dg.build_sensor_context(resources=resources) as context:
        result = late_signal_files(context)
    assert isinstance(result, dg.SkipReason) and "none for a completed day" in result.skip_message
