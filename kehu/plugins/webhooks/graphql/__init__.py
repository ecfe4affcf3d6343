"""Webhooks GraphQL: ``schema.py`` is the table of contents (what ``plugin.py`` hands to
Kehu); ``types.py`` the output types, ``inputs.py``, ``loaders.py`` and ``mutations/`` one
module per aggregate.

The names this module held before it became a package still resolve, with a deprecation
warning naming their new module."""

from kehu.core.deprecation import moved_names

__getattr__ = moved_names(
    __name__,
    {
        "CreateWebhookInput": "kehu.plugins.webhooks.graphql.inputs",
        "LOADERS": "kehu.plugins.webhooks.graphql.loaders",
        "NODE_TYPES": "kehu.plugins.webhooks.graphql.schema",
        "RedeliverWebhookEventInput": "kehu.plugins.webhooks.graphql.inputs",
        "RotateWebhookSecretInput": "kehu.plugins.webhooks.graphql.inputs",
        "UpdateWebhookInput": "kehu.plugins.webhooks.graphql.inputs",
        "Webhook": "kehu.plugins.webhooks.graphql.types",
        "WebhookConnection": "kehu.plugins.webhooks.graphql.types",
        "WebhookDelivery": "kehu.plugins.webhooks.graphql.types",
        "WebhookDeliveryConnection": "kehu.plugins.webhooks.graphql.types",
        "WebhookIdInput": "kehu.plugins.webhooks.graphql.inputs",
        "WebhookMutations": "kehu.plugins.webhooks.graphql.mutations.webhooks",
        "WebhooksQuery": "kehu.plugins.webhooks.graphql.schema",
        "load_webhooks": "kehu.plugins.webhooks.graphql.loaders",
    },
)
