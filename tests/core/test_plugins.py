"""Plugin loading: dependency order, bridges, published hookspecs, validation and GraphQL
composition. Every test builds its own ``Kehu`` from small in-test plugins (no database)."""

from typing import Any

import pluggy
import pytest
import strawberry
from pydantic import BaseModel

import kehu
from kehu import Job, Kehu, PluginInfo, Settings
from kehu.core import context
from kehu.core import plugin as core_plugin
from kehu.core.errors import PluginError


class Plugin:
    """A minimal plugin: info plus a recording ``kehu_configure``/``kehu_permissions``."""

    def __init__(
        self,
        name: str,
        depends: tuple[str, ...] = (),
        auto_enable_with: tuple[str, ...] = (),
        log: list[str] | None = None,
    ) -> None:
        self.name = name
        self.depends = depends
        self.auto_enable_with = auto_enable_with
        self.log = log if log is not None else []

    @kehu.hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo(
            self.name,
            "1.2.3",
            f"test plugin {self.name}",
            depends=self.depends,
            auto_enable_with=self.auto_enable_with,
        )

    @kehu.hookimpl
    def kehu_configure(self, kehu: Any) -> None:
        self.log.append(self.name)

    @kehu.hookimpl
    def kehu_permissions(self) -> dict[str, set[str]]:
        return {f"{self.name}:use": {"admin"}, "shared:scope": {f"role_{self.name}"}}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No kehu.toml from the working directory; the previous runtime is re-activated after
    the test so later tests keep their tables bound to their own engine."""
    monkeypatch.chdir(tmp_path)
    for var in ("KEHU_PLUGINS", "KEHU_TRACE_HOOKS", "KEHU_PLUGIN_SETTINGS"):
        monkeypatch.delenv(var, raising=False)
    previous = context._current
    yield
    if previous is not None:
        previous.activate()


def build(tmp_path, plugins: list[str] | None, *objs: Any, **settings: Any) -> Kehu:
    available = {"core": core_plugin, **{o.name: o for o in objs}}
    return Kehu(
        Settings(database_url=f"sqlite:///{tmp_path}/x.db", plugins=plugins, **settings),
        available=available,
    )


# -- selection and order -----------------------------------------------------------------


def test_topological_order_by_depends(tmp_path):
    log: list[str] = []
    plugins = [
        Plugin("alpha", depends=("zeta",), log=log),
        Plugin("mid", depends=("alpha",), log=log),
        Plugin("zeta", log=log),
        Plugin("solo", log=log),
    ]
    k = build(tmp_path, None, *plugins)
    names = k.names
    assert names[0] == "core"
    assert set(names) == {"core", "alpha", "mid", "zeta", "solo"}
    assert names.index("zeta") < names.index("alpha") < names.index("mid")
    # kehu_configure ran once per plugin, in that order
    assert log == names[1:]
    assert [p.info.name for p in k.plugins] == names


def test_order_is_stable_for_a_given_set(tmp_path):
    orders = {
        tuple(build(tmp_path, ["c", "b", "a"], Plugin("a"), Plugin("b"), Plugin("c")).names)
        for _ in range(3)
    }
    assert len(orders) == 1


def test_core_is_always_enabled(tmp_path):
    k = build(tmp_path, [], Plugin("a"))
    assert k.names == ["core"]
    assert k.pm.is_blocked("a")


def test_missing_dependency(tmp_path):
    with pytest.raises(PluginError, match="not installed") as info:
        build(tmp_path, None, Plugin("shop", depends=("ghost",)))
    assert "'shop'" in info.value.message and "'ghost'" in info.value.message
    assert info.value.code == "PLUGIN"


def test_disabled_dependency(tmp_path):
    with pytest.raises(PluginError, match="disabled") as info:
        build(tmp_path, ["b"], Plugin("a"), Plugin("b", depends=("a",)))
    assert "'b' depends on 'a'" in info.value.message


def test_unknown_plugin_in_settings(tmp_path):
    with pytest.raises(PluginError, match="Unknown plugin") as info:
        build(tmp_path, ["a", "nope"], Plugin("a"))
    assert "nope" in info.value.message
    assert "installed: a, core" in info.value.message


def test_dependency_cycle(tmp_path):
    with pytest.raises(PluginError, match="cycle"):
        build(tmp_path, None, Plugin("a", depends=("b",)), Plugin("b", depends=("a",)))


def test_info_name_must_match_registration(tmp_path):
    impostor = Plugin("other")
    with pytest.raises(PluginError, match="PluginInfo"):
        Kehu(
            Settings(database_url=f"sqlite:///{tmp_path}/x.db"),
            available={"core": core_plugin, "mine": impostor},
        )


def test_plugin_without_info(tmp_path):
    class NoInfo:
        name = "bare"

    with pytest.raises(PluginError, match="kehu_plugin_info"):
        build(tmp_path, None, NoInfo())


def test_disabled_plugins_are_blocked_and_not_called(tmp_path):
    log: list[str] = []
    k = build(tmp_path, ["a"], Plugin("a", log=log), Plugin("b", log=log))
    assert k.names == ["core", "a"]
    assert k.pm.is_blocked("b")
    assert log == ["a"]
    assert "b:use" not in k.permissions()


# -- bridges -------------------------------------------------------------------------------


def _bridge_set() -> list[Plugin]:
    return [
        Plugin("a"),
        Plugin("b"),
        Plugin("a_b_link", depends=("a", "b"), auto_enable_with=("a", "b")),
    ]


@pytest.mark.parametrize(
    ("enabled", "bridge_on"),
    [(None, True), (["a", "b"], True), (["b", "a"], True), (["a"], False), (["b"], False)],
)
def test_bridge_enabled_only_with_both_sides(tmp_path, enabled, bridge_on):
    k = build(tmp_path, enabled, *_bridge_set())
    assert ("a_b_link" in k.names) is bridge_on
    assert k.pm.is_blocked("a_b_link") is not bridge_on
    if bridge_on:
        assert k.names.index("a_b_link") > max(k.names.index("a"), k.names.index("b"))


def test_bridge_is_not_enabled_by_default_without_its_sides(tmp_path):
    # a bridge to an uninstalled plugin stays off even with the default "all installed"
    k = build(tmp_path, None, Plugin("a"), Plugin("bridge", auto_enable_with=("a", "zzz")))
    assert k.names == ["core", "a"]


def test_bridge_runs_after_its_sides_without_explicit_depends(tmp_path):
    k = build(
        tmp_path,
        None,
        Plugin("aa_bridge", auto_enable_with=("b", "c")),
        Plugin("b"),
        Plugin("c"),
    )
    assert k.names.index("aa_bridge") > max(k.names.index("b"), k.names.index("c"))


# -- published hookspecs ---------------------------------------------------------------------


class PublishedSpecs:
    @kehu.hookspec
    def kehu_pub_stage_changed(self, old: str, new: str) -> Any:
        """A stage changed (published by plugin "pub")."""


class Publisher(Plugin):
    @kehu.hookimpl
    def kehu_add_hookspecs(self, pm: pluggy.PluginManager) -> None:
        pm.add_hookspecs(PublishedSpecs)

    @kehu.hookimpl
    def kehu_pub_stage_changed(self, old: str, new: str) -> str:
        return f"pub saw {old}->{new}"


class OptionalSubscriber(Plugin):
    @kehu.hookimpl(optionalhook=True)
    def kehu_pub_stage_changed(self, old: str, new: str) -> str:
        return f"{self.name} saw {old}->{new}"


class StrictSubscriber(Plugin):
    @kehu.hookimpl
    def kehu_pub_stage_changed(self, old: str, new: str) -> str:
        return "strict"


def test_published_hookspec_is_implemented_by_another_plugin(tmp_path):
    k = build(tmp_path, None, OptionalSubscriber("sub"), Publisher("pub"), StrictSubscriber("s2"))
    results = k.call_each("kehu_pub_stage_changed", old="lead", new="won")
    assert results == [
        ("pub", "pub saw lead->won"),
        ("s2", "strict"),
        ("sub", "sub saw lead->won"),
    ]
    assert k.call("kehu_pub_stage_changed", old="a", new="b") == [
        "pub saw a->b",
        "strict",
        "sub saw a->b",
    ]
    hook = k.pm.hook.kehu_pub_stage_changed
    assert hook.spec is not None
    assert hook.spec.argnames == ("old", "new")
    assert "kehu_pub_stage_changed" in next(p for p in k.plugins if p.info.name == "sub").hooks


def test_optionalhook_works_when_publisher_is_disabled(tmp_path):
    k = build(tmp_path, ["sub"], OptionalSubscriber("sub"), Publisher("pub"))
    assert k.names == ["core", "sub"]
    assert k.pm.hook.kehu_pub_stage_changed.spec is None


def test_required_hook_of_a_disabled_publisher_fails(tmp_path):
    with pytest.raises(PluginError, match="kehu_pub_stage_changed"):
        build(tmp_path, ["s2"], StrictSubscriber("s2"), Publisher("pub"))


class Typo(Plugin):
    @kehu.hookimpl
    def kehu_graphql_querys(self) -> list:  # typo of kehu_graphql_queries
        return []


def test_unknown_hook_implementation_is_a_startup_error(tmp_path):
    with pytest.raises(PluginError, match="kehu_graphql_querys"):
        build(tmp_path, None, Typo("typo"))


def test_unknown_hook_error_names_the_plugin(tmp_path):
    with pytest.raises(PluginError, match="Plugin 'typo'"):
        build(tmp_path, None, Typo("typo"))


class WrongArgs(Plugin):
    @kehu.hookimpl
    def kehu_event(self, evt: Any) -> None:  # the spec's argument is ``event``
        return None


def test_hookimpl_with_wrong_arguments_is_a_plugin_error(tmp_path):
    with pytest.raises(PluginError, match="kehu_event") as info:
        build(tmp_path, None, WrongArgs("wrongargs"))
    assert info.value.message == (
        "Plugin 'wrongargs': kehu_event takes no argument 'evt' (its arguments: event)"
    )


# -- hooks listed per plugin -----------------------------------------------------------------


def test_hooks_listed_per_plugin(tmp_path):
    k = build(tmp_path, None, Publisher("pub"), Plugin("plain"))
    hooks = {p.info.name: p.hooks for p in k.plugins}
    assert hooks["plain"] == ["kehu_configure", "kehu_permissions", "kehu_plugin_info"]
    assert hooks["pub"] == [
        "kehu_add_hookspecs",
        "kehu_configure",
        "kehu_permissions",
        "kehu_plugin_info",
        "kehu_pub_stage_changed",
    ]
    assert {
        "kehu_plugin_info",
        "kehu_piccolo_app",
        "kehu_permissions",
        "kehu_graphql_queries",
        "kehu_jobs",
        "kehu_demo_data",
    } <= set(hooks["core"])
    assert hooks["core"] == sorted(hooks["core"])


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("a,b", ["a", "b"]),
        ("a, b", ["a", "b"]),
        (" a ,, b ,", ["a", "b"]),
        ("pipeline", ["pipeline"]),
        (["x", "y"], ["x", "y"]),
        (None, None),
    ],
)
def test_plugins_setting_parsing(raw, parsed):
    assert Settings(plugins=raw).plugins == parsed


def test_kehu_plugins_environment_variable(monkeypatch):
    monkeypatch.setenv("KEHU_PLUGINS", "a, b")
    assert Settings().plugins == ["a", "b"]
    monkeypatch.delenv("KEHU_PLUGINS")
    assert Settings().plugins is None


def test_plugins_from_kehu_toml(tmp_path):
    (tmp_path / "kehu.toml").write_text('plugins = ["a", "b"]\n', encoding="utf-8")
    assert Settings().plugins == ["a", "b"]


class Configurable(Plugin):
    class Config(BaseModel):
        points: int = 1
        label: str = "pts"

    @kehu.hookimpl
    def kehu_settings_model(self) -> type[BaseModel]:
        return self.Config


def test_plugin_settings_model_defaults_and_values(tmp_path):
    k = build(tmp_path, None, Configurable("loyal"))
    assert k.plugin_settings("loyal") == Configurable.Config()
    k = build(tmp_path, None, Configurable("loyal"), plugin_settings={"loyal": {"points": "5"}})
    assert k.plugin_settings("loyal").points == 5
    assert k.plugin_settings("loyal").label == "pts"


def test_plugin_settings_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KEHU_PLUGIN_SETTINGS__LOYAL__POINTS", "7")
    k = build(tmp_path, None, Configurable("loyal"))
    assert k.plugin_settings("loyal").points == 7


def test_plugin_settings_validation_error(tmp_path):
    with pytest.raises(PluginError, match=r"Invalid \[plugin_settings.loyal\]") as info:
        build(tmp_path, None, Configurable("loyal"), plugin_settings={"loyal": {"points": "x"}})
    assert "points" in info.value.message


# -- hook façade order -----------------------------------------------------------------------


class JobPlugin(Plugin):
    @kehu.hookimpl
    def kehu_jobs(self) -> list[Job]:
        async def noop(kehu: Any) -> str:
            return ""

        from datetime import timedelta

        return [Job(f"{self.name}.job", noop, every=timedelta(hours=1))]


def test_contributions_follow_dependency_order_not_lifo(tmp_path):
    plugins = [
        JobPlugin("zeta"),
        JobPlugin("alpha", depends=("zeta",)),
        JobPlugin("mid", depends=("alpha",)),
    ]
    k = build(tmp_path, None, *plugins)
    assert k.names == ["core", "zeta", "alpha", "mid"]
    called = [name for name, _ in k.call_each("kehu_permissions")]
    assert called == ["core", "zeta", "alpha", "mid"]
    # hooks are called through pluggy, registered so that its order is the dependency order
    native = k.pm.hook.kehu_permissions()
    assert native == k.call("kehu_permissions") == [g for _, g in k.call_each("kehu_permissions")]
    assert "customer:read" in native[0]  # core first
    assert list(k.jobs()) == [
        "core.stale-customers",
        "core.prune-events",
        "zeta.job",
        "alpha.job",
        "mid.job",
    ]


def test_permissions_merge_roles(tmp_path):
    k = build(tmp_path, None, Plugin("a"), Plugin("b"))
    perms = k.permissions()
    assert perms["shared:scope"] == {"role_a", "role_b"}
    assert perms["a:use"] == {"admin"}
    assert "customer:read" in perms


def test_duplicate_job_names(tmp_path):
    class Clash(JobPlugin):
        @kehu.hookimpl
        def kehu_jobs(self) -> list[Job]:
            async def noop(kehu: Any) -> str:
                return ""

            from datetime import timedelta

            return [Job("shared.job", noop, every=timedelta(hours=1))]

    k = build(tmp_path, None, Clash("one"), Clash("two"))
    with pytest.raises(PluginError, match=r"shared\.job"):
        k.jobs()


def test_async_hooks_are_awaited_by_acall(tmp_path):
    import asyncio

    class Async(Plugin):
        @kehu.hookimpl
        async def kehu_event(self, event: Any) -> str:
            await asyncio.sleep(0)
            return f"{self.name} got {event}"

    k = build(tmp_path, None, Plugin("sync"), Async("x"))
    pending = k.call("kehu_event", event="e1")
    assert len(pending) == 1 and asyncio.iscoroutine(pending[0])
    pending[0].close()
    assert asyncio.run(k.acall("kehu_event", event="e2")) == ["x got e2"]


class Ordered(Plugin):
    """Implementations marked the pluggy way."""

    def __init__(self, name: str, mark: dict[str, bool], **kw: Any) -> None:
        super().__init__(name, **kw)
        self.mark = mark
        impl = kehu.hookimpl(**mark)(lambda: {f"{name}:x": {"admin"}})
        self.kehu_permissions = impl  # type: ignore[method-assign]


def test_tryfirst_and_trylast_are_honoured(tmp_path):
    k = build(
        tmp_path,
        None,
        Ordered("late", {"trylast": True}),
        Ordered("early", {"tryfirst": True}),
        Ordered("plain", {}),
    )
    order = [next(iter(g)).split(":")[0] for g in k.call("kehu_permissions")]
    assert order[0] == "early" and order[-1] == "late"
    assert order.index("customer") < order.index("plain")  # core before the others


def test_a_wrapper_wraps_the_call(tmp_path):
    seen: list[Any] = []

    class Wrapping(Plugin):
        @kehu.hookimpl(wrapper=True)
        def kehu_permissions(self):
            result = yield
            seen.append(len(result))
            return [*result, {"wrapped:scope": {"admin"}}]

    k = build(tmp_path, None, Plugin("a"), Wrapping("w"))
    grants = k.call("kehu_permissions")
    assert grants[-1] == {"wrapped:scope": {"admin"}}
    assert seen and set(seen) == {2}  # core's and a's results, not a stray generator
    assert "wrapped:scope" in k.permissions()


def test_firstresult_hooks_return_one_value(tmp_path):
    class Specs:
        @kehu.hookspec(firstresult=True)
        def kehu_pick(self, options: list[str]) -> str | None:
            """Choose one option (the first plugin that answers decides)."""

    class Publisher(Plugin):
        @kehu.hookimpl
        def kehu_add_hookspecs(self, pm):
            pm.add_hookspecs(Specs)

        @kehu.hookimpl
        def kehu_pick(self, options):
            return None  # no opinion

    class Picker(Plugin):
        @kehu.hookimpl(optionalhook=True)
        def kehu_pick(self, options):
            return options[-1]

    k = build(tmp_path, None, Publisher("pub"), Picker("picker", depends=("pub",)))
    assert k.call("kehu_pick", options=["a", "b"]) == "b"


def test_bad_piccolo_app(tmp_path):
    class BadApp(Plugin):
        @kehu.hookimpl
        def kehu_piccolo_app(self) -> str:
            return "kehu.core.settings"  # a module without APP_CONFIG

    with pytest.raises(PluginError, match="APP_CONFIG"):
        build(tmp_path, None, BadApp("badapp"))


def test_trace_hooks(tmp_path, capsys):
    k = build(tmp_path, None, Plugin("a"), trace_hooks=True)
    capsys.readouterr()
    k.call("kehu_permissions")
    err = capsys.readouterr().err
    assert "kehu: kehu_permissions -> core, a" in err


def test_configure_receives_the_runtime(tmp_path):
    seen: list[Any] = []

    class Config(Plugin):
        @kehu.hookimpl
        def kehu_configure(self, kehu: Any) -> None:
            seen.append(kehu)

    k = build(tmp_path, None, Config("c"))
    assert seen == [k]
    assert context.current() is k


# -- GraphQL composition ---------------------------------------------------------------------


@strawberry.type
class PointsA:
    @strawberry.field(description="Loyalty points (plugin a)")
    def loyalty_points(self) -> int:
        return 1


@strawberry.type
class PointsB:
    @strawberry.field
    def loyalty_points(self) -> int:
        return 2


@strawberry.type
class ShadowsCore:
    @strawberry.field
    def name(self) -> str:
        return "shadow"


@strawberry.type
class Other:
    @strawberry.field
    def other_field(self) -> str:
        return ""


class Extends(Plugin):
    def __init__(self, name: str, extensions: dict[str, list[type]], **kw: Any) -> None:
        super().__init__(name, **kw)
        self.extensions = extensions

    @kehu.hookimpl
    def kehu_graphql_type_extensions(self) -> dict[str, list[type]]:
        return self.extensions


def test_type_extension_adds_a_customer_field(tmp_path):
    k = build(tmp_path, None, Extends("a", {"Customer": [PointsA], "Contact": [Other]}))
    sdl = k.graphql().schema.as_str()
    customer = sdl[sdl.index("type Customer ") :]
    customer = customer[: customer.index("\n}")]
    assert "loyaltyPoints: Int!" in customer
    contact = sdl[sdl.index("type Contact ") :]
    assert "otherField: String!" in contact[: contact.index("\n}")]


def test_two_plugins_adding_the_same_field(tmp_path):
    k = build(
        tmp_path,
        None,
        Extends("plug_a", {"Customer": [PointsA]}),
        Extends("plug_b", {"Customer": [PointsB]}),
    )
    with pytest.raises(PluginError) as info:
        k.graphql()
    message = info.value.message
    assert "Customer.loyalty_points" in message
    assert "'plug_a'" in message and "'plug_b'" in message


def test_plugin_field_clashing_with_core_field(tmp_path):
    k = build(tmp_path, None, Extends("shadow", {"Customer": [ShadowsCore]}))
    with pytest.raises(PluginError, match=r"Customer\.name.*'core'.*'shadow'"):
        k.graphql()


def test_extending_an_unknown_type(tmp_path):
    k = build(tmp_path, None, Extends("typo", {"Custmer": [PointsA]}))
    with pytest.raises(PluginError, match="unknown type 'Custmer'") as info:
        k.graphql()
    assert "'typo'" in info.value.message
    assert "Customer" in info.value.message  # lists the extensible types


def test_extension_that_is_not_a_strawberry_type(tmp_path):
    class Plain:
        pass

    k = build(tmp_path, None, Extends("plain", {"Customer": [Plain]}))
    with pytest.raises(PluginError, match="not a Strawberry type"):
        k.graphql()
