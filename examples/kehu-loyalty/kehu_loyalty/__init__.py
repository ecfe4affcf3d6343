"""Loyalty points for Kehu customers: an example of a third-party Kehu plugin."""

__version__ = "0.1.0"
