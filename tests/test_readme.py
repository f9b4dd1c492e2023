"""README's notebook examples run as written: every ```python block, in order, in one namespace.

The blocks talk to the offline try-out's fake engine at 127.0.0.1:8000; here it listens on a free port, put in
place of 8000 in the code, and the blocks run in a temporary working folder so their relative paths stay there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fake_engine.server import FakeEngine, FakeServer

README = Path(__file__).resolve().parents[1] / "README.md"
FENCED_PYTHON = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def notebook_examples() -> list[str]:
    return FENCED_PYTHON.findall(README.read_text(encoding="utf-8"))


def test_readme_has_notebook_examples():
    assert notebook_examples()


@pytest.mark.slow
def test_readme_notebook_examples_run_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    server = FakeServer(FakeEngine(images_per_query=16)).start()
    try:
        namespace: dict = {"__name__": "__readme__"}
        for number, block in enumerate(notebook_examples(), start=1):
            code = block.replace("127.0.0.1:8000", f"127.0.0.1:{server.server_address[1]}")
            exec(compile(code, f"README.md python block {number}", "exec"), namespace)  # noqa: S102 (our own README)
    finally:
        server.stop()
