"""KEHU_TRACE_HOOKS=1 traces every hook call to standard error."""

from kehu.core.context import current
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings


def test_trace_hooks_prints_each_call(tmp_path, capsys, monkeypatch) -> None:
    try:
        previous = current()
    except RuntimeError:
        previous = None
    monkeypatch.setenv("KEHU_TRACE_HOOKS", "1")
    kehu = Kehu(Settings(database_url=f"sqlite:///{tmp_path}/t.db", plugins=["core"]))
    capsys.readouterr()
    kehu.call("kehu_permissions")
    kehu.pm.hook.kehu_jobs()  # direct pluggy calls are traced too
    err = capsys.readouterr().err
    if previous is not None:
        previous.activate()
    assert "kehu: kehu_permissions -> core" in err
    assert "kehu_jobs" in err
