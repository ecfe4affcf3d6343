"""The built-in webhooks plugin: signed HTTP callbacks (Standard Webhooks) for integrators,
fed from the outbox with retries, a delivery log, secret rotation and owner visibility."""

__version__ = "0.1.0"
