"""The Kehu runtime: settings, the plugin manager, the database engine and the hook façade."""

import contextlib
import dataclasses
import graphlib
import importlib
import inspect
import io
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy
from piccolo.conf.apps import AppConfig
from piccolo.engine.postgres import PostgresEngine
from piccolo.table import Table
from pydantic import ValidationError

from kehu.core import hookspecs, piccolo_conf
from kehu.core import plugin as core_plugin
from kehu.core.context import set_current
from kehu.core.db import (
    KehuSQLiteEngine,
    bind_tables,
    make_engine,
    migration_lock,
    prepare_database,
)
from kehu.core.delivery import Dispatcher
from kehu.core.deprecation import moved_names
from kehu.core.errors import PluginError
from kehu.core.event_types import Catalogue
from kehu.core.graphql.schema import build_schema
from kehu.core.info import Job, PluginInfo
from kehu.core.settings import Settings

log = logging.getLogger("kehu")

ENTRY_POINT_GROUP = "kehu"


@dataclass
class LoadedPlugin:
    info: PluginInfo
    module: Any
    hooks: list[str] = field(default_factory=list)


def _discover() -> dict[str, Any]:
    """Every installed plugin object by entry-point name (core first)."""
    found: dict[str, Any] = {"core": core_plugin}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name == "core":
            continue
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken third-party package must say who it is
            raise PluginError(f"Plugin {ep.name!r} ({ep.value}) failed to import: {exc}") from exc
    return found


def _info(name: str, obj: Any) -> PluginInfo:
    getter = getattr(obj, "kehu_plugin_info", None)
    if getter is None:
        raise PluginError(f"Plugin {name!r} does not implement kehu_plugin_info")
    info = getter()
    if not isinstance(info, PluginInfo) or info.name != name:
        raise PluginError(
            f"Plugin {name!r}: kehu_plugin_info must return PluginInfo(name={name!r})"
        )
    return info


def resolve_plugins(settings: Settings, available: dict[str, Any]) -> list[LoadedPlugin]:
    """Choose the enabled plugins and sort them by dependency (``graphlib``)."""
    infos = {name: _info(name, obj) for name, obj in available.items()}
    if settings.plugins is None:
        wanted = {n for n, i in infos.items() if not i.auto_enable_with}
    else:
        unknown = sorted(set(settings.plugins) - set(infos))
        if unknown:
            raise PluginError(
                f"Unknown plugin(s) {', '.join(unknown)} in KEHU_PLUGINS/kehu.toml; "
                f"installed: {', '.join(sorted(infos))}"
            )
        wanted = set(settings.plugins) | {"core"}
    for name, info in infos.items():  # bridges switch on when both sides are on
        if info.auto_enable_with and set(info.auto_enable_with) <= wanted:
            wanted.add(name)
    for name in sorted(wanted):
        for dep in infos[name].depends:
            if dep not in infos:
                raise PluginError(f"Plugin {name!r} depends on {dep!r}, which is not installed")
            if dep not in wanted:
                raise PluginError(
                    f"Plugin {name!r} depends on {dep!r}, which is disabled: enable {dep!r} "
                    f"or disable {name!r} (KEHU_PLUGINS / plugins in kehu.toml)"
                )
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in sorted(wanted):
        deps = set(infos[name].depends) | set(infos[name].auto_enable_with)
        deps |= {"core"} if name != "core" else set()
        sorter.add(name, *sorted(deps))
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        raise PluginError(f"Plugin dependency cycle: {' -> '.join(exc.args[1])}") from exc
    return [LoadedPlugin(infos[n], available[n]) for n in order]


def _validation_error(pm: pluggy.PluginManager, plugin: str, exc: Exception) -> PluginError:
    """pluggy's (several-line) validation error as one line naming the plugin."""
    text = " ".join(str(exc).split())
    hook = re.search(r"for hook '(\w+)'", text)
    unknown = re.search(r"Argument\(s\) \{(.*?)\} are declared in the hookimpl", text)
    caller = getattr(pm.hook, hook[1], None) if hook else None
    spec = getattr(caller, "spec", None)
    if hook and unknown and spec is not None:
        return PluginError(
            f"Plugin {plugin!r}: {hook[1]} takes no argument {unknown[1]} "
            f"(its arguments: {', '.join(spec.argnames) or 'none'})"
        )
    return PluginError(f"Plugin {plugin!r}: {text}")


class Kehu:
    """One configured Kehu: enabled plugins in dependency order, their hooks and the engine."""

    def __init__(self, settings: Settings, available: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        available = _discover() if available is None else available
        self.plugins = resolve_plugins(settings, available)
        enabled = {p.info.name for p in self.plugins}
        for name in sorted(set(available) - enabled):
            self.pm.set_blocked(name)
        registering: str | None = None
        try:
            # pluggy calls the last registered first: registering in reverse dependency
            # order makes its call order the dependency order (core first)
            for plugin in reversed(self.plugins):
                registering = plugin.info.name
                self.pm.register(plugin.module, name=plugin.info.name)
            registering = None
            self.pm.hook.kehu_add_hookspecs(pm=self.pm)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = registering or self.pm.get_name(exc.plugin) or repr(exc.plugin)
            raise _validation_error(self.pm, name, exc) from exc
        for plugin in self.plugins:
            plugin.hooks = sorted(
                hc.name
                for hc in self.pm.get_hookcallers(plugin.module) or []
                if hc.name.startswith("kehu_")
            )
        if settings.trace_hooks:
            self.pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
            self.pm.enable_tracing()
        self.plugin_config = self._validate_plugin_settings()
        self.engine = make_engine(settings)
        self.apps = self._piccolo_apps()
        self._started = False
        self._permissions: dict[str, set[str]] | None = None
        self.composed: Any = None  # the GraphQL schema, built on first use
        self.event_types = Catalogue(self)
        self.events = Dispatcher(self)
        self._feed: Any = None
        self.activate()
        self.permissions()  # validates settings.permissions at startup
        self.call("kehu_configure", kehu=self)
        if settings.job_schedules:
            self.jobs()  # validates settings.job_schedules at startup

    def activate(self) -> None:
        """Make this runtime the process's current one: tables bound to its engine, Piccolo
        configured for its plugins, its composed GraphQL types installed."""
        from piccolo.apps.migrations.tables import Migration

        bind_tables(self.engine, [*self.tables(), Migration])
        piccolo_conf.configure(self.engine, [module for module, _ in self.apps])
        os.environ.setdefault("PICCOLO_CONF", "kehu.core.piccolo_conf")
        set_current(self)
        if self.composed is not None:
            self.composed.install()

    def graphql(self) -> Any:
        """The composed GraphQL schema of the enabled plugins (built once)."""
        if self.composed is None:
            self.composed = build_schema(self)
        self.composed.install()
        return self.composed

    @property
    def feed(self) -> Any:
        """The live event feed of this process (GraphQL subscriptions), made on first use."""
        if self._feed is None:
            from kehu.core.feed import EventFeed

            self._feed = EventFeed(self)
        return self._feed

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "Kehu":
        return cls(settings or Settings())

    # -- hook façade ---------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.info.name for p in self.plugins]

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` through pluggy: the list of non-``None`` results in call order, which
        is the plugins' dependency order (core first) unless ``tryfirst``/``trylast`` say
        otherwise; wrappers wrap the call and a ``firstresult`` hook returns one value.
        Coroutines of async implementations are returned unawaited (see ``acall``)."""
        caller = getattr(self.pm.hook, hook)
        if self.settings.trace_hooks:
            called = [i.plugin_name for i in reversed(caller.get_hookimpls())]
            print(f"kehu: {hook} -> {', '.join(called)}", file=sys.stderr)
        return caller(**kwargs)

    async def acall(self, hook: str, **kwargs: Any) -> Any:
        """Like ``call`` but awaits async implementations, one after the other."""
        results = self.call(hook, **kwargs)
        if not isinstance(results, list):  # a firstresult hook
            return await results if inspect.isawaitable(results) else results
        out = []
        for result in results:
            if inspect.isawaitable(result):
                result = await result
            if result is not None:
                out.append(result)
        return out

    def collect(self, hook: str, **kwargs: Any) -> list[Any]:
        """Concatenate the list results of ``hook`` in call order."""
        return [item for items in self.call(hook, **kwargs) for item in items]

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """``[(plugin, result)]``: ``hook`` called through pluggy once per implementing
        plugin, in dependency order (then plugins registered later, e.g. in tests), for
        contributions that name their plugin (settings sections, GraphQL fields, apps)."""
        caller = getattr(self.pm.hook, hook)
        implementing = {i.plugin_name for i in caller.get_hookimpls()}
        order = [n for n in self.names if n in implementing]
        order += sorted(implementing - set(order))
        plugins = self.pm.list_name_plugin()
        out: list[tuple[str, Any]] = []
        for name in order:
            others = [p for n, p in plugins if n != name]
            result = self.pm.subset_hook_caller(hook, others)(**kwargs)
            for item in result if isinstance(result, list) else [result]:
                if item is not None:
                    out.append((name, item))
        return out

    def _validate_plugin_settings(self) -> dict[str, Any]:
        config = {}
        for name, model in self.call_each("kehu_settings_model"):
            raw = _json_values(self.settings.plugin_settings.get(name, {}))
            try:
                config[name] = model.model_validate(raw)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                raise PluginError(f"Invalid [plugin_settings.{name}]: {problems}") from exc
        return config

    def plugin_settings(self, name: str) -> Any:
        """The validated settings model of plugin ``name``."""
        return self.plugin_config[name]

    def _piccolo_apps(self) -> list[tuple[str, AppConfig]]:
        apps = []
        for name, app in self.call_each("kehu_piccolo_app"):
            module: ModuleType = importlib.import_module(app) if isinstance(app, str) else app
            config = getattr(module, "APP_CONFIG", None)
            if not isinstance(config, AppConfig):
                raise PluginError(
                    f"Plugin {name!r}: kehu_piccolo_app must name a piccolo_app "
                    "module with APP_CONFIG"
                )
            apps.append((module.__name__, config))
        return apps

    def tables(self) -> list[type[Table]]:
        return [t for _, config in self.apps for t in config.table_classes]

    def permissions(self) -> dict[str, set[str]]:
        """Scope -> roles granted it, merged from every plugin; ``settings.permissions``
        replaces the grants of the scopes it names."""
        if self._permissions is None:
            merged: dict[str, set[str]] = {}
            for grants in self.call("kehu_permissions"):
                for scope, roles in grants.items():
                    merged.setdefault(scope, set()).update(roles)
            for scope, roles in self.settings.permissions.items():
                if scope not in merged:
                    raise PluginError(
                        f"Unknown permission {scope!r} in settings; known: "
                        f"{', '.join(sorted(merged))}"
                    )
                merged[scope] = set(roles)
            self._permissions = merged
        return self._permissions

    def jobs(self) -> dict[str, Job]:
        """The periodic jobs of the enabled plugins, with ``job_schedules`` applied."""
        jobs: dict[str, Job] = {}
        for job in self.collect("kehu_jobs"):
            if job.name in jobs:
                raise PluginError(f"Two plugins define job {job.name!r}")
            jobs[job.name] = job
        for name, spec in self.settings.job_schedules.items():
            if name not in jobs:
                raise PluginError(
                    f"job_schedules names unknown job {name!r}; jobs: {', '.join(jobs)}"
                )
            if spec.strip() == "off":
                del jobs[name]
            else:
                jobs[name] = _rescheduled(jobs[name], spec.strip())
        return jobs

    # -- database --------------------------------------------------------------------
    async def start(self) -> None:
        """Open the PostgreSQL pool (Litestar lifespan / CLI); idempotent."""
        if self._started:
            return
        prepare_database(self.engine)
        if isinstance(self.engine, PostgresEngine):
            await self.engine.start_connection_pool(
                min_size=1, max_size=self.settings.postgres_pool_max
            )
        self._started = True

    async def stop(self) -> None:
        """Close the database pool (PostgreSQL) or pooled connections (SQLite)."""
        if isinstance(self.engine, KehuSQLiteEngine):
            await self.engine.close_pool()
        elif self._started:
            await self.engine.close_connection_pool()
        self._started = False

    async def migrate(self, verbose: bool = False) -> None:
        """Run every enabled plugin's Piccolo migrations, in dependency order."""
        from piccolo.apps.migrations.commands.forwards import run_forwards
        from piccolo.apps.migrations.tables import Migration

        prepare_database(self.engine)
        Migration._meta.db = self.engine
        out = sys.stdout if verbose else io.StringIO()
        async with migration_lock(self.engine):
            with contextlib.redirect_stdout(out):
                result = await run_forwards(app_name="all")
        if not result.success:
            raise PluginError(f"Migration failed: {result.message}")


def _json_values(raw: dict[str, Any]) -> dict[str, Any]:
    """Values given as JSON text (``KEHU_PLUGIN_SETTINGS__WEBHOOKS__ALLOWED_HOSTS=
    '["127.0.0.1"]'`` arrives as a string) become lists and objects."""
    import json

    out = {}
    for key, value in raw.items():
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        out[key] = value
    return out


def _rescheduled(job: Job, spec: str) -> Job:
    """``job`` on the schedule ``spec``: ``30s``, ``5m``, ``2h``, ``1d`` or a cron line."""
    import re

    from croniter import croniter

    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    match = re.fullmatch(r"(\d+)\s*([smhd])", spec)
    if match and int(match[1]) > 0:
        every = timedelta(**{units[match[2]]: int(match[1])})
        return dataclasses.replace(job, every=every, cron=None)
    if croniter.is_valid(spec):
        return dataclasses.replace(job, every=None, cron=spec)
    raise PluginError(
        f"job_schedules[{job.name!r}] = {spec!r}: use 30s, 5m, 2h, 1d, a cron line or off"
    )


__getattr__ = moved_names(__name__, {"current": "kehu.core.context"})
