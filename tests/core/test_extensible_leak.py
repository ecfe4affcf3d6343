import strawberry

from kehu.core.context import current
from kehu.core.graphql.base import EXTENSIBLE, extensible
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings


def test_disabled_plugin_extensible_type_does_not_leak(tmp_path):
    @extensible("Widget")
    @strawberry.type(name="WidgetFields")
    class WidgetFields:
        name: str

    WidgetFields.__module__ = "kehu_widgets.graphql"
    try:
        previous = current()
    except RuntimeError:
        previous = None
    try:
        kehu = Kehu(
            Settings(database_url=f"sqlite:///{tmp_path}/x.db", plugins=["core"], _env_file=None)
        )
        assert "Widget" not in kehu.graphql().schema.as_str()
    finally:
        EXTENSIBLE.pop("Widget")
        if previous is not None:
            previous.activate()
