"""The plans assets in Dagster: the night step, its blocking audit and the publisher, on real PostgreSQL."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from core.database import connect
from core.settings import get_settings
from tests.plans_world import seed_world

AS_OF = date(2026, 3, 10)
pytestmark = pytest.mark.slow  # a Dagster materialization


def test_plans_assets_write_audit_and_publish(pg_server, tmp_path):
    from assets.monitoring import plans_bias
    from assets.plans import ASSETS, CHECKS
    from runtime.resources import build_resources
    from tests.conftest import make_database

    params = make_database(pg_server, "plans_assets")
    with connect(params) as conn:
        users = seed_world(conn, 50, AS_OF)
        # The protected attributes the plans' bias monitoring reads (dbt's dim_users, reduced).
        conn.execute(
            "create table marts_build.dim_users (user_key text, gender text, age_band text, region text)"
        )
        conn.execute(
            "insert into marts_build.dim_users select u, case when n %% 2 = 0 then 'f' else 'm' end,"
            " '30-44', 'north' from unnest(%s::text[]) with ordinality as t (u, n)",
            (users,),
        )
    settings = get_settings({"KAIROO_STATE_DIR": str(tmp_path), "KAIROO_DATABASE_URL": params.conninfo()})
    resources = {k: v for k, v in build_resources(settings).items() if k in ("warehouse", "llm")}
    result = dg.materialize(
        [*ASSETS, *CHECKS, plans_bias], partition_key=AS_OF.isoformat(), resources=resources,
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        # AS_OF is a Tuesday: the night that writes weekly summaries, by the typed config.
        run_config={"ops": {"marts_build__user_plans": {"config": {"weekly_summary_weekday": 1}}}},
    )  # fmt: skip
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(checks) == {"user_plans_audit", "plans_gate"}
    check = checks["user_plans_audit"]
    assert check.passed and check.metadata["evaluated"].value == len(users)
    # The plans gate passed before the publisher ran (it holds the plans otherwise).
    assert checks["plans_gate"].passed
    meta = result.asset_materializations_for_node("marts_build__user_plans")[0].metadata
    assert meta["users_planned"].value == len(users) and meta["within_envelope"].value is True
    assert meta["provider_mix"].value == {"offline": len(users)}
    weekly = meta["weekly_summaries"].value
    assert weekly["written"] == len(users) and weekly["provider_mix"] == {"offline": len(users)}
    with connect(params) as conn:
        assert conn.execute("select count(*) from marts.user_plans").fetchone()[0] == len(users)
        # The reviewer role: reads plans and the queue, writes decision columns only.
        grants = conn.execute(
            "select table_name, privilege_type from information_schema.role_table_grants"
            " where grantee = 'kairoo_reviewer' order by 1, 2"
        ).fetchall()
        assert grants == [("plan_versions", "SELECT"), ("review_queue", "SELECT")]
        cols = conn.execute(
            "select column_name from information_schema.column_privileges where grantee = 'kairoo_reviewer'"
            " and privilege_type = 'UPDATE' order by 1"
        ).fetchall()
        assert [c for (c,) in cols] == ["decided_at", "decision_reason", "edited_plan", "reviewer", "status"]
    # After the plans, their bias by group, recorded, and the plans gate decided from it: an offline
    # night has no fallbacks, and one age band and region leave those attributes unruled.
    bias_meta = result.asset_materializations_for_node("monitoring__plans_bias")[0].metadata
    with connect(params) as conn:
        rows = conn.execute(
            "select attribute, group_value, metric, value, users, passed from monitoring.bias_results"
            " where surface = 'plans' and run_id = %s order by 1, 2, 3",
            (result.run_id,),
        ).fetchall()
        verdict = conn.execute(
            "select status from monitoring.night_verdicts where gate = 'plans_gate' and run_id = %s",
            (result.run_id,),
        ).fetchone()
    provider = {g: v for a, g, m, v, _, _ in rows if a == "gender" and m == "provider_share"}
    assert provider == {"f": 1.0, "m": 1.0}, rows
    assert sum(n for a, _, m, _, n, _ in rows if a == "gender" and m == "hours_planned") == len(users)
    assert {p for a, _, _, _, _, p in rows if a != "gender"} == {None}
    assert verdict == (bias_meta["plans_gate"].value,) and "region has fewer than two groups" in str(
        bias_meta["reasons"].value
    )
    # What `make demo` prints: the counts and one example plan.
    from plans.demo import print_plans

    lines: list[str] = []
    counts = print_plans(params, lines.append)
    assert counts["total"] == len(users) and lines[0].startswith(f"plans: {len(users)} published")
    assert any(line.startswith("  week 1:") for line in lines)
