"""The agent examples in README.md and docs/agent.md run as written, with a configured
model (here the local responder, configured through the environment)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from examples.local_model import LocalModelServer

from .conftest import ROOT, child_env

pytestmark = pytest.mark.slow


def _first_python_block(path: Path, after: str) -> str:
    text = path.read_text(encoding="utf-8")
    start = text.index(after)
    match = re.search(r"```python\n(.*?)```", text[start:], re.DOTALL)
    assert match, f"no python example after {after!r} in {path.name}"
    return match.group(1)


@pytest.mark.parametrize(
    ("document", "heading"), [("README.md", "## Agents"), ("docs/agent.md", "# Agents")]
)
def test_the_agent_example_runs_as_written(
    document: str, heading: str, model_server: LocalModelServer, tmp_path: Path
) -> None:
    code = _first_python_block(ROOT / document, heading)
    code += "\nprint(result.final_output)\n"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=child_env(PYAI_MODEL="local-docs", OPENAI_BASE_URL=model_server.base_url),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "Your name is Alice."
    assert (tmp_path / "conversations.db").exists()
    assert len(model_server.requests) == 2
