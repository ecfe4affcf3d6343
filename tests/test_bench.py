"""The benchmarks keep running: each script runs at a tiny size (SQLite only) and prints its
figures next to their floors. Nothing is asserted about timings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
TINY = {
    "request_bench.py": ["--requests", "20"],
    "core_bench.py": ["--rows", "50", "--queries", "3"],
    "reporting_bench.py": ["--rows", "200"],
    "events_bench.py": ["--seconds", "0.5", "--events", "30", "--requests", "5"],
}


@pytest.mark.parametrize("script", sorted(TINY))
def test_a_benchmark_runs_at_a_tiny_size(script: str, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "KEHU_TEST_POSTGRES_URL"}
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *TINY[script]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout.lower()
    assert "floor" in out or "hand-written sql" in out, result.stdout
