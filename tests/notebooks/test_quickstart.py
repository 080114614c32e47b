"""The quickstart notebook runs from top to bottom on a tiny budget."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "quickstart.ipynb"


@pytest.mark.timeout(600)
def test_quickstart_notebook_executes(monkeypatch, tmp_path):
    monkeypatch.setenv("SCHEDLAB_QUICKSTART_TRIALS", "8")
    monkeypatch.setenv("SCHEDLAB_QUICKSTART_SIZE", "64")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(out.get("text", "") for cell in notebook.cells
                      if cell.cell_type == "code" for out in cell.get("outputs", []))
    assert "matches numpy" in outputs
    assert "GFLOP/s" in outputs
