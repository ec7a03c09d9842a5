"""Every notebook in ``notebooks/`` executes headless at small scale, and is stored without outputs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
KERNEL = "python3"


def test_notebooks_exist() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert names[:3] == [
        "01_estimate_mutual_information.ipynb",
        "02_mine_in_your_own_model.ipynb",
        "03_mode_collapse.ipynb",
    ]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment whose ``python3`` kernel is this interpreter (so the notebooks import this checkout).

    A ``python3`` spec found on the Jupyter path may belong to another Python; a spec written to a temporary
    ``JUPYTER_PATH`` entry, which takes precedence, pins the kernel to ``sys.executable``.
    """
    spec_dir = tmp_path_factory.mktemp("jupyter") / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (mine_gan tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return {
        "JUPYTER_PATH": os.pathsep.join([str(spec_dir.parents[1]), os.environ.get("JUPYTER_PATH", "")]),
        "MINE_GAN_NOTEBOOK_SCALE": "small",
        "MPLBACKEND": "Agg",
        # One intra-op thread: these nets are tiny, and on a shared machine idle threads spin for nothing.
        "OMP_NUM_THREADS": "1",
        "WANDB_MODE": "offline",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, kernel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in kernel_env.items():
        monkeypatch.setenv(key, value)  # the kernel process inherits them
    from jupyter_client.kernelspec import KernelSpecManager

    # The kernel nbclient starts is the one this lookup finds: this interpreter, with this checkout.
    assert KernelSpecManager().get_kernel_spec(KERNEL).argv[0] == sys.executable

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=120, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failing cell
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    assert "scale: small" in _text(notebook), "the notebook did not pick up MINE_GAN_NOTEBOOK_SCALE=small"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name} is stored with outputs; strip them (e.g. `jupyter nbconvert --clear-output --inplace`)"
            )


def _text(notebook) -> str:
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
