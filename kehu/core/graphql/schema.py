"""Compose the GraphQL schema once from the enabled plugins.

No ``from __future__ import annotations`` here: types are built dynamically.
"""

import importlib
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

import kehu.core.graphql.types  # noqa: F401 - registers the core extensible types
from kehu.core.errors import KehuError, PluginError
from kehu.core.graphql.base import EXTENSIBLE, Node, should_mask
from kehu.core.graphql.guards import ErrorCodes, RequestGuard
from kehu.core.graphql.rows import RowType
from kehu.core.graphql.scalars import SCALARS


class KehuSchema(strawberry.Schema):
    """Logs only unexpected errors: a client's bad query, a permission it lacks or a record
    it may not see is an answer, not a server fault."""

    def process_errors(self, errors: list[Any], execution_context: Any = None) -> None:
        from strawberry.utils.logging import StrawberryLogger

        from graphql import GraphQLError

        for error in errors:
            original = getattr(error, "original_error", None)
            if original is not None and not isinstance(original, KehuError | GraphQLError):
                StrawberryLogger.error(error, execution_context)


@dataclass
class ComposedSchema:
    schema: strawberry.Schema
    node_types: dict[str, Any]
    loaders: dict[str, Any]
    composed: dict[str, Any]

    def install(self) -> None:
        _install(self.composed)


def _install(composed: dict[str, Any]) -> None:
    """Set the composed types as attributes of their base modules (for ``lazy``)."""
    for name, final in composed.items():
        setattr(importlib.import_module(EXTENSIBLE[name].__module__), name, final)


def _field_names(cls: type) -> list[str]:
    definition = getattr(cls, "__strawberry_definition__", None)
    if definition is None:
        raise PluginError(f"{cls.__qualname__} is not a Strawberry type (@strawberry.type)")
    return [f.python_name for f in definition.fields]


def _merge(name: str, parts: list[tuple[str, type]], base: type | None = None) -> type:
    """One Strawberry type from mixins; a field defined twice is a startup error."""
    owners: dict[str, str] = {}
    if base is not None:
        owners = {f: "core" for f in _field_names(base)}
    for plugin, mixin in parts:
        for field in _field_names(mixin):
            if field in owners:
                raise PluginError(
                    f"GraphQL field {name}.{field} is defined by both "
                    f"{owners[field]!r} and {plugin!r}"
                )
            owners[field] = plugin
    bases = ((base,) if base else ()) + tuple(m for _, m in parts)
    module = base.__module__ if base else __name__
    description = base.__strawberry_definition__.description if base else None  # type: ignore[attr-defined]
    return strawberry.type(
        type(name, bases, {"__module__": module}), name=name, description=description
    )


def _per_plugin(kehu: Any, hook: str) -> list[tuple[str, type]]:
    return [(plugin, item) for plugin, items in kehu.call_each(hook) for item in items]


def _enabled_extensible(kehu: Any) -> dict[str, type]:
    """The extensible bases of core and of the enabled plugins. A plugin's base is registered
    when its module is imported and stays in ``EXTENSIBLE`` for the process, so a runtime in
    which that plugin is disabled must not compose it."""
    modules, prefixes = set(), ["kehu.core."]
    for plugin in kehu.plugins:
        module = getattr(plugin.module, "__name__", None)
        if module:
            modules.add(module)
            prefixes.append((module.rpartition(".")[0] or module) + ".")
    return {
        name: base
        for name, base in EXTENSIBLE.items()
        if base.__module__ in modules or base.__module__.startswith(tuple(prefixes))
    }


def build_schema(kehu: Any) -> ComposedSchema:
    """Compose types, root Query/Mutation, loaders and extensions for ``kehu``'s plugins."""
    extensions: dict[str, list[tuple[str, type]]] = {}
    for plugin, by_type in kehu.call_each("kehu_graphql_type_extensions"):
        for type_name, mixins in by_type.items():
            extensions.setdefault(type_name, []).extend((plugin, m) for m in mixins)
    extensible = _enabled_extensible(kehu)  # after the hooks imported the plugins' types
    for type_name, parts in extensions.items():
        if type_name not in extensible:
            raise PluginError(
                f"Plugin {parts[0][0]!r} extends unknown type {type_name!r}; "
                f"extensible: {', '.join(sorted(extensible))}"
            )

    composed = {
        name: _merge(name, extensions.get(name, []), base)
        for name, base in list(extensible.items())
    }
    _install(composed)
    node_types: dict[str, Any] = dict(composed)

    extra = _per_plugin(kehu, "kehu_graphql_types")
    for plugin, cls in extra:  # types derived from rows must match their tables
        if isinstance(cls, type) and issubclass(cls, RowType):
            cls.check_table(plugin)
    for _, cls in extra:
        definition = getattr(cls, "__strawberry_definition__", None)
        if definition is not None and issubclass(cls, Node):
            node_types[definition.name] = cls

    query = _merge("Query", _per_plugin(kehu, "kehu_graphql_queries"))
    mutation_parts = _per_plugin(kehu, "kehu_graphql_mutations")
    mutation = _merge("Mutation", mutation_parts) if mutation_parts else None
    subscription_parts = _per_plugin(kehu, "kehu_graphql_subscriptions")
    subscription = _merge("Subscription", subscription_parts) if subscription_parts else None

    loaders: dict[str, Any] = {}
    for plugin, fns in kehu.call_each("kehu_graphql_dataloaders"):
        for name, fn in fns.items():
            if name in loaders:
                raise PluginError(f"DataLoader {name!r} is defined twice (plugin {plugin!r})")
            loaders[name] = fn

    settings = kehu.settings
    # the limiters' rule classes are built once: ValidationCache keys on them, so rules made
    # per request (what the limiter factories do) would never let a validation be reused
    limits = [
        *QueryDepthLimiter(max_depth=settings.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
    ]
    schema_extensions: list[Any] = [
        lambda: ErrorCodes(suggestions=settings.graphql_suggestions),  # first: its exit runs last
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: RequestGuard(
            page_size_max=settings.page_size_max,
            max_cost=settings.graphql_max_cost,
            introspection=settings.graphql_introspection,
        ),
    ]
    if not settings.debug:
        schema_extensions.append(lambda: MaskErrors(should_mask_error=should_mask))
    schema_extensions += [e for items in kehu.call("kehu_graphql_schema_extensions") for e in items]
    schema = KehuSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=[*node_types.values(), *(c for _, c in extra)],
        extensions=schema_extensions,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
    return ComposedSchema(schema, node_types, loaders, composed)
