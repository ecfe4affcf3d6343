"""Several ``kehu worker`` processes at once run each periodic job once per due time, and
``kehu migrate`` started several times at once on an empty database succeeds."""

import itertools
import json
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ALL_PLUGINS, KEHU, Deployment


def _snapshot_times(deployment) -> list[float]:
    async def read(kehu):
        from kehu.plugins.pipeline.tables import ForecastSnapshot

        rows = await ForecastSnapshot.select(ForecastSnapshot.taken_at).order_by(
            ForecastSnapshot.taken_at
        )
        return [r["taken_at"].timestamp() for r in rows]

    return deployment.run(read)


def test_five_workers_run_a_job_once_per_due_time(deployment):
    schedules = {
        "pipeline.forecast_snapshot": "1s",
        "pipeline.stale_deals": "off",
        "core.stale-customers": "off",
        "core.prune-events": "off",
        "contracts.dunning": "off",
        "tickets.sla_check": "off",
        "tickets.churn_check": "off",
    }
    env = {"KEHU_JOB_SCHEDULES": json.dumps(schedules)}
    workers = [deployment.start("worker", "--poll", "0.05", **env) for _ in range(5)]
    time.sleep(7)
    for worker in workers:
        assert worker.poll() is None, deployment.log(worker)
    deployment.stop_all()
    times = _snapshot_times(deployment)
    assert len(times) >= 5, times
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.9, gaps  # never twice for one due time

    async def runs(kehu):
        from kehu.core.tables import JobState

        row = await JobState.select().where(JobState.name == "pipeline.forecast_snapshot").first()
        return row["run_count"], row["locked_by"]

    count, holder = deployment.run(runs)
    assert count == len(times)
    assert holder == ""


@pytest.mark.parametrize("migrators", [3])
def test_concurrent_migrate_on_an_empty_database(empty_url, tmp_path: Path, migrators):
    deploy = Deployment(empty_url, tmp_path, ALL_PLUGINS)
    processes = [
        subprocess.Popen(
            [KEHU, "migrate"],
            cwd=tmp_path,
            env=deploy.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(migrators)
    ]
    results = [(*p.communicate(timeout=180), p.returncode) for p in processes]
    for out, err, code in results:
        assert code == 0, (out, err)
        assert "Database migrated" in out

    async def applied(kehu):
        from piccolo.apps.migrations.tables import Migration

        rows = await Migration.select(Migration.app_name, Migration.name)
        return [(r["app_name"], r["name"]) for r in rows]

    rows = deploy.run(applied)
    assert len(rows) == len(set(rows))  # every migration recorded once
    assert deploy.kehu("migrate").returncode == 0
