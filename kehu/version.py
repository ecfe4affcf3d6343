"""The version of Kehu."""

__version__ = "0.1.0"
