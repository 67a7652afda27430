"""``make demo``'s agent step runs offline, and says when it uses the local responder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, child_env


@pytest.mark.slow
def test_the_agent_demo_runs_offline_with_the_local_responder(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "agent_demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=child_env(PYAI_DEMO_DB=str(tmp_path / "demo.db")),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "PYAI_MODEL is not set, so this demo uses the bundled LOCAL RESPONDER" in out
    assert "not a language model" in out
    assert "assistant: Nice to meet you, Alice!" in out
    assert "assistant: Your name is Alice." in out
    assert "#4 assistant: Your name is Alice." in out
    assert "messages before: 4, after: 4 (a failed turn stores nothing)" in out
