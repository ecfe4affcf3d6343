"""``kehu pipeline`` commands, run in-process (see the loyalty example for the pattern)."""

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.cli import pipeline


class Obj:
    def __init__(self, kehu: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.kehu = kehu
        self.loop = loop

    def run(self, fn: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(self.kehu), self.loop).result(timeout=60)


async def _invoke(kehu: Any, *args: str) -> Any:
    obj = Obj(kehu, asyncio.get_running_loop())
    return await asyncio.to_thread(CliRunner().invoke, pipeline, list(args), obj=obj)


async def test_templates_create_list(kehu, system):
    result = await _invoke(kehu, "templates")
    assert result.exit_code == 0
    assert "linear_with_approval  (linear)" in result.output
    assert " 70%  commit    Decision Approval [approval]" in result.output
    result = await _invoke(kehu, "create", "--template", "linear")
    assert result.exit_code == 0, result.output
    assert "from template linear" in result.output
    result = await _invoke(
        kehu, "create", "--template", "online", "--name", "Web shop", "--default"
    )
    assert result.exit_code == 0, result.output
    rows = await services.list_pipelines(system)
    assert [(r["name"], r["is_default"]) for r in rows] == [
        ("Web shop", True),
        ("Linear (线性, funnel)", False),
    ]
    result = await _invoke(kehu, "list")
    assert "Web shop (default)  [non_linear]" in result.output
    assert "Needs Collection → Display & Recommendation" in result.output
    result = await _invoke(kehu, "create", "--template", "online", "--name", "Web shop")
    assert result.exit_code == 1 and "exists" in result.output
    result = await _invoke(kehu, "create", "--template", "waterfall")
    assert result.exit_code == 2


def _kehu_executable() -> str:
    beside = Path(sys.executable).with_name("kehu")
    return str(beside) if beside.exists() else shutil.which("kehu") or "kehu"


def test_real_kehu_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEHU_")}
    env["KEHU_DATABASE_URL"] = f"sqlite:///{tmp_path / 'kehu.db'}"
    env["KEHU_PLUGINS"] = "pipeline"

    def kehu(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [_kehu_executable(), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    # (``kehu demo`` with every plugin runs in the loyalty example's subprocess test)
    assert "pipeline" in kehu("migrate").stdout
    created = kehu("pipeline", "create", "--template", "customer_journey", "--name", "Journey")
    assert created.returncode == 0 and "from template customer_journey" in created.stdout
    listed = kehu("pipeline", "list")
    assert "Journey (default)  [linear]" in listed.stdout, listed.stderr
    assert "Awareness → Consideration → Decision → Retention" in listed.stdout
    job = kehu("jobs", "run", "pipeline.stale_deals")
    assert "stale deal reminder(s)" in job.stdout, job.stdout + job.stderr
