"""The event catalogue: every event name a plugin emits, with its data fields, the permission
a receiver needs and the GraphQL type of its entity. Plugins declare theirs through
``kehu_event_types``; ``docs/events.md`` is generated from it (``kehu events catalogue``).

``EventHook`` lets a plugin publish a typed hook for an event (``opportunity.won`` →
``kehu_opportunity_won(opportunity_id=..., ...)``): each implementing plugin receives it with
the same guarantees as ``kehu_event`` (its own delivery state, retries, order).
"""

import fnmatch
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from piccolo.table import Table

from kehu.core.errors import PluginError

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
PATTERN = re.compile(r"^[a-z0-9_*?.\[\]!-]+$")


@dataclass(frozen=True)
class EventType:
    """One event name. ``table``: the data carries columns of this table (an audit
    before/after row); ``fields``: further keys, name → description. ``customer`` is always
    allowed (the customer the event concerns, which decides who may receive it).

    ``scope``: the permission a user needs to receive the event by webhook or subscription
    (``None``: admins only).
    ``node``: the GraphQL type of ``entity_id`` (global IDs in payloads, ``$id`` of a
    webhook's ``payloadQuery``). ``visible``: an extra rule, ``async (actor, events) ->
    set of event ids`` the actor may receive, for entities with their own visibility."""

    name: str
    description: str
    fields: Mapping[str, str] = field(default_factory=dict)
    table: type[Table] | None = None
    scope: str | None = None
    node: str | None = None
    version: int = 1
    visible: Callable[[Any, list[Any]], Awaitable[set[str]]] | None = None

    @property
    def entity(self) -> str:
        return self.name.partition(".")[0]

    def data_fields(self) -> dict[str, str]:
        """Every key the data may hold, with a description."""
        out: dict[str, str] = {}
        if self.table is not None:
            name = self.table._meta.tablename
            for column in self.table._meta.columns:
                kind = column.__class__.__name__
                out[column._meta.name] = f"column {column._meta.name} of {name} ({kind})"
        out.update(self.fields)
        out.setdefault("customer", "id of the customer the event concerns")
        return out


@dataclass(frozen=True)
class EventHook:
    """Publish hook ``hook`` for event ``event``: ``args(event)`` gives its keyword
    arguments, or ``None`` to skip this event."""

    event: str
    hook: str
    args: Callable[[Any], dict[str, Any] | None]


F = TypeVar("F", bound=Callable[..., Any])


def on_events(*patterns: str) -> Callable[[F], F]:
    """Narrow a ``kehu_event`` implementation to the events it handles (names or globs): the
    plugin is then only called for those, and a commit without them costs it nothing.

    ``@hookimpl`` then ``@on_events("activity.created")`` above ``async def kehu_event``."""

    def mark(func: F) -> F:
        func.kehu_event_names = tuple(patterns)  # type: ignore[attr-defined]
        return func

    return mark


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Shell-style globs: ``contract.*``, ``*.created``, ``*``."""
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


class Catalogue:
    """The event types of the enabled plugins (and of plugins registered later)."""

    def __init__(self, kehu: Any) -> None:
        self.kehu = kehu
        self._key: tuple[str, ...] | None = None
        self._types: dict[str, EventType] = {}
        self._hooks: list[tuple[str, EventHook]] = []

    def _load(self) -> None:
        key = tuple(name for name, _ in self.kehu.pm.list_name_plugin())
        if key == self._key:
            return
        types: dict[str, EventType] = {}
        owners: dict[str, str] = {}
        for plugin, declared in self.kehu.call_each("kehu_event_types"):
            for item in declared:
                if not EVENT_NAME.match(item.name):
                    raise PluginError(
                        f"Plugin {plugin!r}: event name {item.name!r} must be "
                        "'<entity>.<action>' in lower case"
                    )
                if item.name in types and types[item.name] != item:
                    raise PluginError(
                        f"Event {item.name!r} is declared by both {owners[item.name]!r} "
                        f"and {plugin!r}"
                    )
                types[item.name], owners[item.name] = item, plugin
        self._types = dict(sorted(types.items()))
        published = self.kehu.call_each("kehu_event_hooks")
        self._hooks = [(p, h) for p, hooks in published for h in hooks]
        self._key = key

    @property
    def types(self) -> dict[str, EventType]:
        self._load()
        return self._types

    @property
    def hooks(self) -> list[tuple[str, EventHook]]:
        """``(publishing plugin, EventHook)`` in plugin order."""
        self._load()
        return self._hooks

    def get(self, name: str) -> EventType | None:
        return self.types.get(name)

    def check(self, event: Any) -> Any:
        """The event with its declared version. With ``strict_events`` (on in Kehu's test
        fixtures) an undeclared name or data key is an error, so the catalogue stays true."""
        declared = self.get(event.name)
        if declared is None:
            if self.kehu.settings.strict_events:
                raise PluginError(
                    f"Event {event.name!r} is not declared (kehu_event_types); see docs/events.md"
                )
            return event
        if self.kehu.settings.strict_events:
            unknown = set(event.data) - set(declared.data_fields())
            if unknown:
                raise PluginError(
                    f"Event {event.name!r} carries undeclared data key(s) "
                    f"{', '.join(sorted(unknown))} (kehu_event_types)"
                )
        return replace(event, version=declared.version) if declared.version != 1 else event

    def check_patterns(self, patterns: Iterable[str]) -> list[str]:
        """The patterns that match no declared event (unknown names or typos)."""
        names = list(self.types)
        return [p for p in patterns if not PATTERN.match(p) or not matches_any(p, names)]

    def markdown(self) -> str:
        """``docs/events.md``'s catalogue section, generated from the declarations."""
        lines = []
        for name, t in self.types.items():
            lines += [f"### `{name}`", "", t.description, ""]
            meta = [f"entity `{t.entity}`"]
            if t.node:
                meta.append(f"GraphQL type `{t.node}`")
            meta.append(f"receivers need `{t.scope}`" if t.scope else "receivers: admins")
            if t.version != 1:
                meta.append(f"payload version {t.version}")
            lines += ["; ".join(meta) + ".", "", "| data field | meaning |", "|---|---|"]
            for key, meaning in t.data_fields().items():
                lines.append(f"| `{key}` | {meaning} |")
            lines.append("")
        return "\n".join(lines)


def matches_any(pattern: str, names: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)
