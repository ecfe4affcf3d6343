"""Periodic jobs: schedules, leases, recorded state, the worker and the core stale-customer job."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kehu import Job
from kehu.core import jobs
from kehu.core.services import activities, customers, users
from kehu.core.services.common import now
from kehu.core.services.maintenance import STALE_TASK
from kehu.core.tables import Activity, AuditLog, Customer, JobState


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]


class Recorder:
    """A job function that counts its runs and can be slow or fail."""

    def __init__(self, sleep: float = 0.0, fail: Exception | None = None, summary: str = "did it"):
        self.sleep, self.fail, self.summary = sleep, fail, summary
        self.calls: list[Any] = []

    async def __call__(self, kehu: Any) -> str:
        self.calls.append(kehu)
        if self.sleep:
            await asyncio.sleep(self.sleep)
        if self.fail is not None:
            raise self.fail
        return self.summary


def make_job(name: str = "test.job", func: Any = None, **schedule: Any) -> Job:
    if not schedule:
        schedule = {"every": timedelta(hours=1)}
    return Job(name, func or Recorder(), **schedule)


async def state(name: str) -> dict[str, Any] | None:
    return await JobState.select().where(JobState.name == name).first()


# -- schedules ---------------------------------------------------------------------------------

AT = datetime(2026, 3, 10, 10, 7, tzinfo=UTC)


def test_next_run_never_ran_is_now():
    assert jobs.next_run(make_job(), None, AT) == AT
    assert jobs.next_run(make_job(cron="0 3 * * *"), None, AT) == AT


@pytest.mark.parametrize(
    ("every", "last", "expected"),
    [
        (timedelta(hours=1), AT, AT + timedelta(hours=1)),
        (timedelta(days=1), AT - timedelta(days=2), AT - timedelta(days=1)),
        (timedelta(minutes=5), AT, datetime(2026, 3, 10, 10, 12, tzinfo=UTC)),
    ],
)
def test_next_run_every(every, last, expected):
    assert jobs.next_run(make_job(every=every), last, AT) == expected


@pytest.mark.parametrize(
    ("cron", "last", "expected"),
    [
        ("*/15 * * * *", AT, datetime(2026, 3, 10, 10, 15, tzinfo=UTC)),
        ("0 3 * * *", AT, datetime(2026, 3, 11, 3, 0, tzinfo=UTC)),
        ("0 3 * * *", AT.replace(hour=2, minute=0), AT.replace(hour=3, minute=0)),
        ("0 9 * * 1", AT, datetime(2026, 3, 16, 9, 0, tzinfo=UTC)),  # next Monday
        ("0 0 1 * *", AT, datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
    ],
)
def test_next_run_cron(cron, last, expected):
    result = jobs.next_run(make_job(cron=cron), last, AT)
    assert result == expected
    assert result.tzinfo is not None


def test_job_needs_exactly_one_schedule():
    with pytest.raises(ValueError, match="exactly one"):
        Job("x", Recorder())
    with pytest.raises(ValueError, match="exactly one"):
        Job("x", Recorder(), every=timedelta(hours=1), cron="* * * * *")


# -- running -------------------------------------------------------------------------------------


async def test_run_job_runs_and_records_state(kehu):
    func = Recorder(summary="3 things done")
    job = make_job(func=func)
    before = now()
    result = await jobs.run_job(kehu, job, holder="w1")
    assert result == jobs.JobResult("test.job", "ok", "3 things done")
    assert func.calls == [kehu]
    row = await state("test.job")
    assert row["last_status"] == "ok"
    assert row["last_error"] == ""
    assert row["run_count"] == 1
    assert row["locked_by"] == ""
    assert row["locked_until"] is None
    assert before <= row["last_started_at"] <= row["last_finished_at"] <= now()

    result = await jobs.run_job(kehu, job)
    assert result.status == "ok"
    assert (await state("test.job"))["run_count"] == 2
    assert len(func.calls) == 2


async def test_job_returning_none_has_empty_summary(kehu):
    async def quiet(kehu: Any) -> None:
        return None

    result = await jobs.run_job(kehu, make_job(func=quiet))
    assert (result.status, result.summary) == ("ok", "")


async def test_held_lease_makes_a_second_run_locked(kehu):
    await JobState.insert(
        JobState(name="test.job", locked_by="other:1", locked_until=now() + timedelta(minutes=30))
    )
    func = Recorder()
    result = await jobs.run_job(kehu, make_job(func=func), holder="me:2")
    assert result.status == "locked"
    assert func.calls == []
    row = await state("test.job")
    assert row["locked_by"] == "other:1"
    assert row["run_count"] == 0
    assert row["last_status"] == ""


async def test_expired_lease_is_taken_over(kehu):
    await JobState.insert(
        JobState(name="test.job", locked_by="dead:1", locked_until=now() - timedelta(minutes=1))
    )
    func = Recorder()
    result = await jobs.run_job(kehu, make_job(func=func), holder="me:2")
    assert result.status == "ok"
    assert len(func.calls) == 1
    row = await state("test.job")
    assert (row["locked_by"], row["locked_until"], row["run_count"]) == ("", None, 1)


async def test_lease_is_held_while_the_job_runs(kehu):
    seen: list[dict] = []

    async def peek(kehu: Any) -> str:
        seen.append(await state("test.job"))
        return ""

    await jobs.run_job(kehu, make_job(func=peek), holder="w1")
    assert seen[0]["locked_by"] == "w1"
    assert seen[0]["locked_until"] > now() + timedelta(seconds=kehu.settings.job_lease_seconds / 2)


async def test_concurrent_runs_of_a_slow_job_run_it_once(kehu, kehu_backend):
    func = Recorder(sleep=0.3)
    job = make_job(func=func)
    results = await asyncio.gather(
        jobs.run_job(kehu, job, holder="worker-a"),
        jobs.run_job(kehu, job, holder="worker-b"),
    )
    assert sorted(r.status for r in results) == ["locked", "ok"]
    assert len(func.calls) == 1
    row = await state("test.job")
    assert row["run_count"] == 1
    assert row["locked_until"] is None


@pytest.mark.parametrize("workers", [5])
async def test_many_concurrent_workers(kehu, kehu_backend, workers):
    if kehu_backend != "postgres":
        pytest.skip("many parallel writers: PostgreSQL")
    func = Recorder(sleep=0.3)
    job = make_job(func=func)
    results = await asyncio.gather(*(jobs.run_job(kehu, job, f"w{i}") for i in range(workers)))
    assert [r.status for r in results].count("ok") == 1
    assert len(func.calls) == 1


async def test_failing_job_records_error(kehu):
    job = make_job(func=Recorder(fail=ValueError("no route to host")))
    result = await jobs.run_job(kehu, job, holder="w1")
    assert result.status == "error"
    assert result.summary == "no route to host"
    row = await state("test.job")
    assert row["last_status"] == "error"
    assert row["last_error"] == "ValueError: no route to host"
    assert row["locked_until"] is None and row["locked_by"] == ""
    assert row["run_count"] == 1
    # the next run is not blocked by the failure, and clears the error
    ok = make_job(func=Recorder())
    assert (await jobs.run_job(kehu, ok)).status == "ok"
    row = await state("test.job")
    assert (row["last_status"], row["last_error"], row["run_count"]) == ("ok", "", 2)


async def test_run_due_runs_only_due_jobs(kehu, monkeypatch):
    funcs = {name: Recorder(summary=name) for name in ("never", "recent", "overdue", "cron")}
    table = {
        "never": make_job("never", funcs["never"], every=timedelta(hours=1)),
        "recent": make_job("recent", funcs["recent"], every=timedelta(hours=1)),
        "overdue": make_job("overdue", funcs["overdue"], every=timedelta(hours=1)),
        "cron": make_job("cron", funcs["cron"], cron="* * * * *"),
    }
    monkeypatch.setattr(kehu, "jobs", lambda: table)
    at = now()
    await JobState.insert(
        JobState(name="recent", last_started_at=at - timedelta(minutes=10)),
        JobState(name="overdue", last_started_at=at - timedelta(hours=2)),
        JobState(name="cron", last_started_at=at - timedelta(minutes=5)),
    )
    results = await jobs.run_due(kehu, holder="w1")
    assert [(r.name, r.status, r.summary) for r in results] == [
        ("never", "ok", "never"),
        ("overdue", "ok", "overdue"),
        ("cron", "ok", "cron"),
    ]
    assert funcs["recent"].calls == []
    # nothing is due right after
    assert await jobs.run_due(kehu, holder="w1") == []

    rows = {r["name"]: r for r in await jobs.job_table(kehu)}
    assert rows["recent"]["schedule"] == "every 1:00:00"
    assert rows["cron"]["schedule"] == "* * * * *"
    assert rows["never"]["last_status"] == "ok"
    assert rows["recent"]["last_status"] == ""
    assert rows["never"]["next_run"] > now() + timedelta(minutes=50)


async def test_worker_loop_runs_due_jobs_until_stopped(kehu, monkeypatch):
    stop = asyncio.Event()

    async def once(kehu: Any) -> str:
        stop.set()
        return "stopping"

    func = Recorder()
    monkeypatch.setattr(kehu, "jobs", lambda: {"a": make_job("a", func), "b": make_job("b", once)})
    await asyncio.wait_for(jobs.worker(kehu, stop, poll_seconds=0.05), timeout=10)
    assert len(func.calls) == 1
    assert (await state("b"))["last_status"] == "ok"


def test_core_declares_the_stale_customer_job(kehu):
    job = kehu.jobs()["core.stale-customers"]
    assert job.every == timedelta(days=1)
    assert job.cron is None
    assert "stale" in job.description


# -- core.stale-customers ------------------------------------------------------------------------


async def test_stale_customer_job_plans_one_review_per_stale_customer(kehu, system):
    team = await users.create_team(system, "North")
    owner = await users.create_user(
        system, {"username": "rep", "role": "sales", "team": team["id"]}
    )
    old = now() - timedelta(days=200)

    async def customer(name: str, *, owned: bool = True, created: datetime = old) -> int:
        row = await customers.create_customer(
            system, {"name": name, "owner": owner["id"] if owned else None}
        )
        await Customer.update({Customer.created_at: created}).where(Customer.id == row["id"])
        return row["id"]

    stale_quiet = await customer("Quiet Ltd")
    stale_old_activity = await customer("Old Contact Ltd")
    await activities.log_activity(
        system,
        stale_old_activity,
        {"subject": "old call", "occurred_at": now() - timedelta(days=150)},
    )
    active = await customer("Busy Ltd")
    await activities.log_activity(
        system, active, {"subject": "recent call", "occurred_at": now() - timedelta(days=10)}
    )
    await customer("Brand New Ltd", created=now())
    archived = await customer("Gone Ltd")
    await customers.archive_customer(system, archived)
    await customer("Nobody's Ltd", owned=False)

    job = kehu.jobs()["core.stale-customers"]
    audit_before = await AuditLog.count()
    result = await jobs.run_job(kehu, job)
    assert (result.status, result.summary) == ("ok", "2 stale-customer review task(s) planned")

    tasks = (
        await Activity.select()
        .where(Activity.related_type == STALE_TASK)
        .order_by(Activity.customer)
    )
    assert [t["customer"] for t in tasks] == [stale_quiet, stale_old_activity]
    for task in tasks:
        assert task["related_id"] == task["customer"]
        assert task["owner"] == owner["id"]
        assert (task["kind"], task["status"]) == ("task", "planned")
        assert "90 days" in task["subject"]
        assert now() + timedelta(days=6) < task["due_at"] < now() + timedelta(days=8)
    assert await AuditLog.count() == audit_before + 2

    # the next day: open review tasks are not duplicated
    await JobState.update({JobState.last_started_at: now() - timedelta(days=2)}).where(
        JobState.name == job.name
    )
    results = [r for r in await jobs.run_due(kehu) if r.name == job.name]
    assert [(r.name, r.summary) for r in results] == [
        ("core.stale-customers", "0 stale-customer review task(s) planned")
    ]
    assert await Activity.count().where(Activity.related_type == STALE_TASK) == 2


async def test_stale_customer_days_setting(kehu, system, monkeypatch):
    owner = await users.create_user(system, {"username": "rep2", "role": "sales"})
    row = await customers.create_customer(system, {"name": "Month Old", "owner": owner["id"]})
    await Customer.update({Customer.created_at: now() - timedelta(days=40)}).where(
        Customer.id == row["id"]
    )
    job = kehu.jobs()["core.stale-customers"]
    assert (await jobs.run_job(kehu, job)).summary.startswith("0 ")
    monkeypatch.setattr(kehu.settings, "stale_customer_days", 30)
    assert (await jobs.run_job(kehu, job)).summary.startswith("1 ")
