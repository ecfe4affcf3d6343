"""Periodic jobs: due-time computation, a lease per job so two workers never run the same job
at once (an atomic conditional UPDATE on both databases), and the worker loop."""

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

from kehu.core.runtime import Job, Kehu
from kehu.core.services.common import now
from kehu.core.tables import JobState

log = logging.getLogger("kehu.jobs")
LEASE = timedelta(hours=1)


@dataclass
class JobResult:
    name: str
    status: str  # "ok" | "error" | "locked"
    summary: str = ""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def next_run(job: Job, last_started: datetime | None, at: datetime) -> datetime:
    """When ``job`` is next due: immediately if it never ran."""
    if last_started is None:
        return at
    if job.every is not None:
        return last_started + job.every
    return croniter(job.cron, last_started).get_next(datetime)


async def _states() -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in await JobState.select()}


async def _acquire(name: str, holder: str, at: datetime) -> bool:
    await JobState.insert(JobState(name=name)).on_conflict(
        target=JobState.name, action="DO NOTHING"
    )
    free = JobState.locked_until.is_null() | (JobState.locked_until < at)
    rows = (
        await JobState.update(
            {
                JobState.locked_by: holder,
                JobState.locked_until: at + LEASE,
                JobState.last_started_at: at,
            }
        )
        .where((JobState.name == name) & free)
        .returning(JobState.id)
    )
    return bool(rows)


async def run_job(kehu: Kehu, job: Job, holder: str | None = None) -> JobResult:
    """Run ``job`` once now, unless another worker holds its lease."""
    holder = holder or worker_id()
    if not await _acquire(job.name, holder, now()):
        return JobResult(job.name, "locked", "another worker is running it")
    status, summary, error = "ok", "", ""
    try:
        summary = await job.func(kehu) or ""
    except Exception as exc:
        log.exception("job %s failed", job.name)
        status, error, summary = "error", f"{type(exc).__name__}: {exc}", str(exc)
    finally:
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
    """Run every job that is due now (one pass of the worker)."""
    states, at = await _states(), now()
    results = []
    for job in kehu.jobs().values():
        state = states.get(job.name, {})
        if next_run(job, state.get("last_started_at"), at) <= at:
            results.append(await run_job(kehu, job, holder))
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
                "next_run": next_run(job, state.get("last_started_at"), at),
            }
        )
    return out


async def worker(kehu: Kehu, stop: asyncio.Event, poll_seconds: float = 30.0) -> None:
    """Run due jobs until ``stop`` is set."""
    holder = worker_id()
    while not stop.is_set():
        for result in await run_due(kehu, holder):
            log.info("job %s: %s %s", result.name, result.status, result.summary)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
