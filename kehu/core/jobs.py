"""Periodic jobs: each runs once per due time with any number of workers.

A job is due when ``next_run(job, last_started_at)`` has come. A claim is one atomic
``UPDATE`` (``claim_rows``) that checks that the lease is free and that ``last_started_at``
is still what the worker read when it found the job due (compare-and-set), and sets it to
now: a second worker that looked at the same moment finds the job no longer due. The lease is
short (``job_lease_seconds``) and renewed by a heartbeat while the job runs: the run of a
worker that died is taken over, and run again, once its lease has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from croniter import croniter

from kehu.core.db import claim_rows
from kehu.core.delivery import holder_id
from kehu.core.info import Job
from kehu.core.services.common import now
from kehu.core.tables import JobState

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu

log = logging.getLogger("kehu.jobs")


@dataclass
class JobResult:
    name: str
    status: str  # "ok" | "error" | "locked" (running elsewhere or no longer due)
    summary: str = ""


_holder = holder_id()


def worker_id() -> str:
    """This process's lease holder name (``host:pid:nonce``)."""
    return _holder


def next_run(job: Job, last_started: datetime | None, at: datetime) -> datetime:
    """When ``job`` is due after a run started at ``last_started``: now if it never ran."""
    if last_started is None:
        return at
    if job.every is not None:
        return last_started + job.every
    assert job.cron is not None  # Job has exactly one of every= and cron=
    return croniter(job.cron, last_started).get_next(datetime)


def _lease(kehu: Kehu) -> timedelta:
    return timedelta(seconds=kehu.settings.job_lease_seconds)


async def _states() -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in await JobState.select()}


def _crashed(state: dict[str, Any], at: datetime) -> bool:
    """A run whose worker stopped renewing its lease."""
    return bool(state.get("locked_by")) and (
        state.get("locked_until") is None or state["locked_until"] < at
    )


def due_at(job: Job, state: dict[str, Any], at: datetime) -> datetime:
    """When the job is due: after its last start, or now if it never ran or its last run
    died (the lease expired without the run finishing)."""
    if _crashed(state, at):
        return at
    return next_run(job, state.get("last_started_at"), at)


async def _claim(
    kehu: Kehu, job: Job, holder: str, at: datetime, seen: dict[str, Any] | None
) -> bool:
    """Take the job's lease. With ``seen`` (the state that showed it due) only if it is
    still that state: nobody started the job since."""
    await JobState.insert(JobState(name=job.name)).on_conflict(
        target=JobState.name, action="DO NOTHING"
    )
    where = "name = {} AND (locked_by = '' OR locked_until IS NULL OR locked_until < {})"
    args: list[Any] = [job.name, at]
    if seen is not None:
        if seen.get("last_started_at") is None:
            where += " AND last_started_at IS NULL"
        else:
            where += " AND last_started_at = {}"
            args.append(seen["last_started_at"])
    values = {"locked_by": holder, "locked_until": at + _lease(kehu), "last_started_at": at}
    return bool(await claim_rows(JobState, where, args, values, returning="id"))


async def _heartbeat(kehu: Kehu, name: str, holder: str) -> None:
    """Renew the lease every third of its length while the job runs."""
    lease = _lease(kehu)
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        await JobState.update({JobState.locked_until: now() + lease}).where(
            (JobState.name == name) & (JobState.locked_by == holder)
        )


async def run_job(
    kehu: Kehu, job: Job, holder: str | None = None, *, seen: dict[str, Any] | None = None
) -> JobResult:
    """Run ``job`` now (``kehu jobs run``), or with ``seen`` only if the job is still in the
    state that showed it due; never while another worker holds its lease."""
    holder = holder or worker_id()
    if not await _claim(kehu, job, holder, now(), seen):
        return JobResult(job.name, "locked", "another worker is running it or it is not due")
    status, summary, error = "ok", "", ""
    beat = asyncio.create_task(_heartbeat(kehu, job.name, holder))
    try:
        summary = await job.func(kehu) or ""
    except Exception as exc:
        log.exception("job %s failed", job.name)
        status, error, summary = "error", f"{type(exc).__name__}: {exc}", str(exc)
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        await JobState.update(
            {
                JobState.locked_until: None,
                JobState.locked_by: "",
                JobState.last_finished_at: now(),
                JobState.last_status: status,
                JobState.last_error: error,
                JobState.run_count: JobState.run_count + 1,
            }
        ).where((JobState.name == job.name) & (JobState.locked_by == holder))
    return JobResult(job.name, status, summary)


async def run_due(kehu: Kehu, holder: str | None = None) -> list[JobResult]:
    """Run every job that is due now (one pass of the worker); a job another worker has
    just claimed is skipped."""
    states, at = await _states(), now()
    results = []
    for job in kehu.jobs().values():
        state = states.get(job.name, {})
        if due_at(job, state, at) <= at:
            result = await run_job(kehu, job, holder, seen=state)
            if result.status != "locked":
                results.append(result)
    return results


async def job_table(kehu: Kehu) -> list[dict[str, Any]]:
    """Jobs with their schedule and last run, for ``kehu jobs list``."""
    states, at = await _states(), now()
    out = []
    for job in kehu.jobs().values():
        state = states.get(job.name, {})
        out.append(
            {
                "name": job.name,
                "schedule": job.cron or f"every {job.every}",
                "description": job.description,
                "last_started_at": state.get("last_started_at"),
                "last_status": state.get("last_status", ""),
                "running_on": state.get("locked_by") if not _crashed(state, at) else "",
                "next_run": due_at(job, state, at),
            }
        )
    return out


async def worker(kehu: Kehu, stop: asyncio.Event, poll_seconds: float = 10.0) -> None:
    """Run due jobs and deliver events until ``stop`` is set."""
    holder = worker_id()
    await kehu.events.start_background()
    try:
        while not stop.is_set():
            for result in await run_due(kehu, holder):
                log.info("job %s: %s %s", result.name, result.status, result.summary)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
    finally:
        await kehu.events.stop_background()
