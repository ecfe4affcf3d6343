"""The live event feed of one process: GraphQL subscriptions read the outbox through it.

One pump per process reads each new outbox row once and hands it to every open
subscription; it is woken by commits in this process and, on PostgreSQL, by ``NOTIFY`` from
the others (the dispatcher's ``LISTEN`` connection), and polls once a second otherwise.
A subscription may resume after a position (``after``): the backlog is read from the outbox.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from kehu.core.events import Event

log = logging.getLogger(__name__)

QUEUE_SIZE = 1000


class SlowSubscriber(Exception):
    """A subscription that fell more than ``QUEUE_SIZE`` events behind is closed."""


class EventFeed:
    def __init__(self, kehu: Any) -> None:
        self.kehu = kehu
        self._queues: set[asyncio.Queue[Event | None]] = set()
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self.position: int | None = None
        kehu.events.listeners.append(self._wake.set)

    async def stream(self, after: int | None = None) -> AsyncGenerator[list[Event], None]:
        """Batches of committed events, in commit order, from now (or after ``after``)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            if not self._running():
                # an idle feed's position is that of its last subscription: "now" is the head
                head = await self.kehu.events.max_seq()
                if not self._running():
                    self.position = head
                    self._start()
            assert self.position is not None
            last = self.position if after is None else after
            while after is not None and last < self.position:  # the backlog
                batch = await self.kehu.events._read(last, 500)
                batch = [e for e in batch if e.seq <= self.position]
                if not batch:
                    break
                last = batch[-1].seq
                yield batch
            while True:
                first = await queue.get()
                items = [first]
                while not queue.empty():
                    items.append(queue.get_nowait())
                if None in items:
                    raise SlowSubscriber("The subscription fell too far behind; resubscribe")
                batch = [e for e in items if e is not None and e.position > last]
                if batch:
                    last = batch[-1].position
                    yield batch
        finally:
            self._queues.discard(queue)

    def _running(self) -> bool:
        return self._pump is not None and not self._pump.done()

    def _start(self) -> None:
        if not self._running():
            self._pump = asyncio.create_task(self._run())

    async def _run(self) -> None:
        poll = self.kehu.settings.event_poll_seconds
        while self._queues:
            self._wake.clear()
            assert self.position is not None
            try:
                batch = await self.kehu.events._read(self.position, 500)
            except Exception:  # the database is away: keep the subscriptions, try again
                log.exception("Reading the outbox for subscriptions failed")
                batch = []
            if batch:
                self.position = batch[-1].seq
                for queue in list(self._queues):
                    for event in batch:
                        try:
                            queue.put_nowait(event)
                        except asyncio.QueueFull:
                            with contextlib.suppress(asyncio.QueueEmpty):
                                queue.get_nowait()
                            queue.put_nowait(None)  # tells the subscriber it lost events
                            break
                if len(batch) == 500:
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll)
        self._pump = None
