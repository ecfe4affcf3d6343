"""Piccolo app of the loyalty tables; its migrations run after core's."""

from kehu.sdk import plugin_app
from kehu_loyalty.tables import LOYALTY_TABLES

APP_CONFIG = plugin_app("loyalty", LOYALTY_TABLES, __file__)
