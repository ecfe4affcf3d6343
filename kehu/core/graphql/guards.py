"""What every GraphQL request passes before it runs, and the codes every error leaves with.

``RequestGuard`` (before execution, when the variables are known): text without NUL or
unpaired surrogates, list sizes (``first``/``last``/``limit``) within 1 .. ``page_size_max``
(``VALIDATION`` naming the argument as ``field``, as the services say it), an
estimated cost within ``graphql_max_cost``, introspection only for whom it is allowed.
``ErrorCodes`` (after the operation): every error gets ``extensions.code`` (``BAD_USER_INPUT``
naming the argument, ``QUERY_TOO_DEEP``, ``TOO_MANY_ALIASES``, ``TOO_MANY_TOKENS``,
``GRAPHQL_PARSE_FAILED``, ``GRAPHQL_VALIDATION_FAILED``, ``INTERNAL_SERVER_ERROR``), field
suggestions are removed where they are not allowed, and expected errors are logged at INFO.
"""

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from strawberry.extensions import SchemaExtension

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from kehu.core.errors import BadInput
from kehu.core.graphql.base import encode_id
from kehu.core.graphql.scalars import bad_input
from kehu.core.validation import BAD_TEXT

log = logging.getLogger("kehu.graphql")

SIZE_ARGUMENTS = ("first", "last", "limit")
LIST_ESTIMATE = 10  # items assumed for a list field that takes no size argument
_SUGGESTION = re.compile(r" Did you mean .*\?$")
_RAW_ID = re.compile(r"\b([A-Z][a-z]+(?: [a-z]+){0,2}) (\d+)\b")
_SERVICE_CODES = {"NOT_FOUND", "CONFLICT", "FORBIDDEN"}
_VARIABLE = re.compile(
    r"^Variable '\$(\w+)' (?:has invalid value|got invalid value)(?: at ([^:]+))?"
)
_LIMITS = (
    ("exceeds maximum operation depth", "QUERY_TOO_DEEP"),
    ("aliases found. Allowed", "TOO_MANY_ALIASES"),
    ("Document contains more than", "TOO_MANY_TOKENS"),
)
_INPUT = (
    "Expected value of type",
    "has invalid value",
    "got invalid value",
    "of required type",
    "is not defined by type",
    "must not be null",
    "was not provided",
)


def allowed(policy: str, authenticated: bool) -> bool:
    """``"all"``, ``"authenticated"`` or ``"off"`` (introspection, suggestions)."""
    return policy == "all" or (policy == "authenticated" and authenticated)


# -- before execution --------------------------------------------------------------------


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    page_size_max: int
    max_cost: int
    cost: int = 0


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name and definition.name.value == name)
        ):
            return definition
    return None


def _size(walk: _Walk, node: FieldNode, field: Any) -> int | None:
    """The list size a field asks for (argument, variable or the argument's default); a size
    outside 1 (``limit``: 0) .. ``page_size_max`` is refused as the services refuse it
    (``VALIDATION``)."""
    for argument in node.arguments or ():
        name = argument.name.value
        if name not in SIZE_ARGUMENTS:
            continue
        value: Any = argument.value
        if isinstance(value, IntValueNode):
            value = int(value.value)
        elif isinstance(value, VariableNode):
            value = walk.variables.get(value.name.value)
        if not isinstance(value, int):
            return None
        least = 0 if name == "limit" else 1  # a limit of 0 asks for none; a page has one
        if not least <= value <= walk.page_size_max:
            raise GraphQLError(
                f"{name} must be between {least} and {walk.page_size_max}, got {value}",
                argument,
                extensions={"code": "VALIDATION", "field": name},
            )
        return value
    for name in SIZE_ARGUMENTS:
        spec = field.args.get(name)
        default = getattr(spec, "default_value", None)
        if isinstance(default, int) and not isinstance(default, bool):
            return default
    return None


def _visit(
    walk: _Walk, selections: SelectionSetNode, parent: Any, count: int, page: int | None = None
) -> None:
    """Add the estimated number of objects each selection resolves to ``walk.cost``:
    ``count`` objects of ``parent``; ``page`` is the size a connection field asked for, which
    its ``edges``/``nodes`` lists have."""
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            fields = getattr(parent, "fields", None) or {}
            field = fields.get(selection.name.value)
            if field is None:
                continue
            size = _size(walk, selection, field)
            is_list = is_list_type(get_nullable_type(field.type))
            inner: int | None = None
            if is_list:
                items = count * (size if size is not None else page or LIST_ESTIMATE)
            else:
                items, inner = count, size  # a connection: one object, ``size`` nodes
            if selection.selection_set is not None:
                walk.cost += items
                if walk.cost > walk.max_cost:
                    return
                _visit(walk, selection.selection_set, get_named_type(field.type), items, inner)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            kind = walk.schema.get_type(condition.name.value) if condition else parent
            _visit(walk, selection.selection_set, kind, count, page)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = walk.fragments.get(selection.name.value)
            if fragment is not None:
                kind = walk.schema.get_type(fragment.type_condition.name.value)
                _visit(walk, fragment.selection_set, kind, count, page)


def _bad_text(value: Any, path: str) -> str | None:
    """The path of the first string holding a NUL or an unpaired surrogate."""
    if isinstance(value, str):
        return path if BAD_TEXT.search(value) else None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _bad_text(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found:
            return found
    return None


def _literal_text(node: Any) -> StringValueNode | None:
    """The first string literal of the document holding a NUL or an unpaired surrogate."""
    if isinstance(node, StringValueNode):
        return node if BAD_TEXT.search(node.value) else None
    if isinstance(node, Node):
        for key in node.keys:
            found = _literal_text(getattr(node, key, None))
            if found is not None:
                return found
    elif isinstance(node, tuple | list):
        for item in node:
            found = _literal_text(item)
            if found is not None:
                return found
    return None


class RequestGuard(SchemaExtension):
    """Refuses, before anything runs, what a request may not ask for."""

    def __init__(self, *, page_size_max: int, max_cost: int, introspection: str) -> None:
        self.page_size_max = page_size_max
        self.max_cost = max_cost
        self.introspection = introspection

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            error = self._check(context)
            if error is not None:
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

    def _check(self, context: Any) -> GraphQLError | None:
        document = context.graphql_document
        variables = context.variables or {}
        found = _bad_text(variables, "")
        if found:
            name = found.lstrip(".")
            return bad_input(
                f"Variable '${name}' holds a NUL character or an unpaired surrogate",
                argument=f"${name}",
            )
        query = context.query or ""
        if "\\u" in query or "\x00" in query:
            literal = _literal_text(document)
            if literal is not None:
                return bad_input(
                    "Text must not hold a NUL character or an unpaired surrogate", literal
                )
        operation = _operation(document, context.operation_name)
        if operation is None:
            return None
        user = getattr(context.context, "user", None)
        if ("__schema" in query or "__type" in query) and not allowed(
            self.introspection, user is not None
        ):
            for selection in operation.selection_set.selections:
                if isinstance(selection, FieldNode) and selection.name.value in (
                    "__schema",
                    "__type",
                ):
                    return GraphQLError(
                        "Introspection needs an API key"
                        if user is None and self.introspection == "authenticated"
                        else "Introspection is disabled on this server",
                        selection,
                        extensions={"code": "INTROSPECTION_DISABLED"},
                    )
        schema = context.schema._schema
        root = schema.get_root_type(operation.operation)
        walk = _Walk(
            schema,
            {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            },
            variables,
            self.page_size_max,
            self.max_cost,
        )
        try:
            _visit(walk, operation.selection_set, root, 1)
        except GraphQLError as error:
            return error
        if walk.cost > self.max_cost:
            return GraphQLError(
                f"Query would resolve an estimated {walk.cost}+ objects; the limit is "
                f"{self.max_cost}. Ask for smaller pages (first/limit) or fewer nested lists.",
                operation,
                extensions={"code": "QUERY_TOO_COSTLY", "cost": walk.cost, "limit": self.max_cost},
            )
        return None


# -- after the operation -----------------------------------------------------------------


def _argument_path(document: DocumentNode | None, node: Any) -> str | None:
    """The argument (``input.amount.amount``) whose value holds ``node``."""
    if document is None or node is None or node.loc is None:
        return None
    start = node.loc.start

    def inside(value: Any, path: str) -> str:
        if isinstance(value, ObjectValueNode):
            for field in value.fields:
                if field.loc and field.loc.start <= start < field.loc.end:
                    return inside(field.value, f"{path}.{field.name.value}")
        elif isinstance(value, ListValueNode):
            for i, item in enumerate(value.values):
                if item.loc and item.loc.start <= start < item.loc.end:
                    return inside(item, f"{path}[{i}]")
        return path

    def search(current: Any) -> str | None:
        if isinstance(current, ArgumentNode):
            if current.loc and current.loc.start <= start < current.loc.end:
                return inside(current.value, current.name.value)
            return None
        if isinstance(current, Node):
            if current.loc and not current.loc.start <= start < current.loc.end:
                return None
            for key in current.keys:
                found = search(getattr(current, key, None))
                if found:
                    return found
        elif isinstance(current, tuple | list):
            for item in current:
                found = search(item)
                if found:
                    return found
        return None

    return search(document)


def _scalar_error(error: BaseException | None) -> BadInput | None:
    while error is not None and not isinstance(error, BadInput):
        error = getattr(error, "original_error", None)
    return error


def classify(error: GraphQLError) -> tuple[str, str | None]:
    """The code of an error, and the variable it is about (``$input.amount``) if it says."""
    message = error.message
    original = error.original_error
    variable = _VARIABLE.match(message)
    if variable:
        return "BAD_USER_INPUT", f"${variable.group(1)}{variable.group(2) or ''}"
    for extensions in (error.extensions, getattr(original, "extensions", None)):
        if isinstance(extensions, dict) and extensions.get("code"):
            return extensions["code"], None
    if error.path is not None:
        return "INTERNAL_SERVER_ERROR", None
    return code_of_message(message), None


def code_of_message(message: str) -> str:
    """The code of an error found before execution, from graphql-core's wording."""
    for text, code in _LIMITS:
        if text in message:
            return code
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if any(text in message for text in _INPUT):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _global_ids(message: str, node_types: dict[str, Any]) -> str:
    """A service's message with its database ids as the API's global ids: ``Contact 7 not
    found`` becomes ``Contact Q29udGFjdDo3 not found``; an id of a type the API does not
    expose is left out (``Installment not found``)."""

    def replace(match: re.Match[str]) -> str:
        words, pk = match.group(1), int(match.group(2))
        name = "".join(w.capitalize() for w in words.split())
        kind = (
            name if name in node_types else next((n for n in node_types if n.endswith(name)), None)
        )
        return f"{words} {encode_id(kind, pk)}" if kind else words

    return _RAW_ID.sub(replace, message)


class ErrorCodes(SchemaExtension):
    """Gives every error a code, hides suggestions where not allowed, logs expected ones."""

    def __init__(self, *, suggestions: str) -> None:
        self.suggestions = suggestions

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [self._coded(e) for e in errors]  # type: ignore[union-attr]

    def _coded(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context
        extensions = dict(error.extensions or {})
        message = error.message
        code, argument = classify(error)
        extensions["code"] = code
        if code == "BAD_USER_INPUT" and "argument" not in extensions:
            if argument is None and error.nodes:
                argument = _argument_path(context.graphql_document, error.nodes[0])
            scalar = _scalar_error(error)
            if argument and scalar is not None:
                kind = "Variable" if argument.startswith("$") else "Argument"
                message = f"{kind} {argument!r}: {scalar.message}"
            if argument:
                extensions["argument"] = argument
        if extensions["code"] in _SERVICE_CODES:
            message = _global_ids(message, getattr(context.context, "node_types", {}))
        user = getattr(context.context, "user", None)
        if not allowed(self.suggestions, user is not None):
            message = _SUGGESTION.sub("", message)
        if extensions["code"] != "INTERNAL_SERVER_ERROR":
            log.info("GraphQL %s at %s: %s", extensions["code"], error.path or "-", message)
        if message == error.message and extensions == (error.extensions or {}):
            return error
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=error.original_error,
            extensions=extensions,
        )


__all__ = ["ErrorCodes", "RequestGuard", "allowed", "classify", "code_of_message"]
