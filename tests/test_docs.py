"""The documentation: the site builds with ``mkdocs build --strict``, and every code block of README.md and the
guides runs.

A page runs top to bottom in a fresh folder (with ``experiments/`` linked in, as from the repository root):
its Python blocks in one namespace, each ``mine-gan`` command of its shell blocks through the real CLI,
in-process. On the pages of :data:`TRAIN_PAGES` the commands train, as written; elsewhere each is parsed
with ``--print_config`` (keys, types and the YAML checked, nothing trained: training those configs is
``tests/test_cli.py``'s and ``tests/test_cli_ddp.py``'s job). A shell command that is not ``mine-gan`` must be
listed in :data:`NOT_RUN` with the reason, so no block goes untested silently.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from _markdown import PAGES, ROOT, blocks, commands, exec_python
from torch.utils.data import DataLoader

README = ROOT / "README.md"
# The set-up commands: CI runs the test command (.ci/run, checked below); the install command ends in the full
# default run, a few minutes of training that test_cli.py runs as a fast_dev_run.
NOT_RUN = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && mine-gan fit": "README's install command",
    "python3 -m venv .venv && . .venv/bin/activate && pip install -q -e '.[test]' && python -m pytest -q": "CI",
    "wandb sync runs/gaussians25/wandb/offline-run-*": "uploads to a W&B account",
}
TRAIN_PAGES = {"docs/guides/checkpoints.md"}
TRUE_MI = -5 / 2 * torch.log(torch.tensor(1 - 0.64)).item()  # the estimate_mi example: 5 pairs at ρ = 0.8


def _checks() -> dict[str, Callable[[dict], None]]:
    """Per page, what its examples must have computed (beyond running without error)."""

    def estimate(ns: dict) -> None:
        low, high = ns["result"].ci
        assert low <= TRUE_MI <= high and abs(ns["result"].value - TRUE_MI) < 0.2

    def estimate_and_module(ns: dict) -> None:
        estimate(ns)
        with torch.no_grad():  # 20 epochs of the MINE module: a DV lower bound well on its way to the truth
            assert 2.0 < ns["mine"](ns["x_test"], ns["z_test"]).item() < TRUE_MI + 0.3

    def own_module(ns: dict) -> None:
        assert len(ns["monitor"].history["input_code"]) == 2 * 16 // 2  # 16 batches an epoch, every 2nd
        assert all(map(math.isfinite, ns["monitor"].history["input_code"]))
        assert ns["gan"].trainer.global_step == 3 * 2 * 16  # D, T and G stepped on each batch of 2 epochs
        _own_gan_mi_term_acts(ns["MyGAN"])

    def troubleshooting(ns: dict) -> None:
        assert abs(ns["infonce"](ns["perfect"]).item() - math.log(ns["n"])) < 1e-5

    def bottleneck(ns: dict) -> None:
        (scores,) = ns["trainer"].test(ns["model"], ns["data"], verbose=False)
        assert scores["test/error"] < 0.8  # 10 batches of training: far from the 90 % error of chance

    def readme(ns: dict) -> None:
        estimate(ns)
        assert math.isfinite(ns["reg"].last_estimate)

    def checkpoints(ns: dict) -> None:
        assert tuple(ns["samples"].shape) == (1000, 2)
        resumed = torch.load("runs/default/version_1/checkpoints/last.ckpt", weights_only=False)
        assert resumed["epoch"] == 2  # the resumed run went on to the third epoch (0-based)

    return {
        "README.md": readme,
        "docs/guides/checkpoints.md": checkpoints,
        "docs/guides/troubleshooting.md": troubleshooting,
        "docs/guides/information-bottleneck.md": bottleneck,
        "docs/guides/estimate-mi.md": estimate_and_module,
        "docs/guides/your-own-module.md": own_module,
    }


def _own_gan_mi_term_acts(my_gan: type) -> None:
    """The guide's own GAN (eq. 21): from the same start and data, β = 1 and β = 0 end at different generators."""

    def fit(mi_weight: float) -> torch.nn.Module:
        torch.manual_seed(0)
        generator = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
        discriminator = torch.nn.Sequential(
            torch.nn.Linear(2, 32), torch.nn.LeakyReLU(0.2), torch.nn.Linear(32, 1), torch.nn.Flatten(0)
        )
        model = my_gan(generator, discriminator, mi_weight=mi_weight)
        data = DataLoader(torch.randn(64, 2, generator=torch.Generator().manual_seed(1)), batch_size=16)
        trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False)  # fmt: skip
        trainer.fit(model, data)
        assert trainer.global_step == 3 * 4  # D, T and G stepped on each of the 4 batches
        return model

    with_mi, without = fit(1.0), fit(0.0)
    assert with_mi.mi_step.mi_weight == 1.0
    generators = zip(with_mi.generator.parameters(), without.generator.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in generators)
    for a in [*with_mi.discriminator.parameters(), *without.discriminator.parameters()]:
        assert torch.isfinite(a).all()


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """A fresh working folder that sees the repository's ``experiments/`` (the commands' relative paths)."""
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the examples' nets are tiny; configs set torch_threads too
    yield tmp_path
    torch.set_num_threads(threads)


def _run_command(argv: list[str], train: bool, capsys, monkeypatch) -> None:
    from mine_gan.cli import cli

    assert argv[0] == "mine-gan", f"not a mine-gan command, and not in NOT_RUN: {' '.join(argv)}"
    monkeypatch.setattr(sys, "argv", argv[:1])  # as from the console: the arguments are these, not pytest's
    if train:
        cli(argv[1:])
        return
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli([*argv[1:], "--print_config"])
    assert exit_info.value.code in (0, None), f"{' '.join(argv)} does not parse"
    assert "class_path" in capsys.readouterr().out


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_page_runs(page: Path, in_tmp, capsys, monkeypatch):
    """Every block of the page, in order: Python executed, ``mine-gan`` commands parsed (or run), YAML included."""
    namespace: dict = {"__name__": "page"}
    train = _page_id(page) in TRAIN_PAGES
    for block in blocks(page):
        if block.language == "python":
            exec_python(block, namespace)
        elif block.language == "bash":
            for text, argv in commands(block):
                if text not in NOT_RUN:
                    _run_command(argv, train, capsys, monkeypatch)
        elif block.language == "yaml":  # a file of the repository, included by pymdownx.snippets: never a copy
            included = re.fullmatch(r'--8<-- "([^"]+)"\n', block.code)
            assert included and (ROOT / included[1]).is_file(), f"{block}: YAML blocks include a config file"
        else:
            assert block.language == "text", f"{block}: a ```{block.language} block is neither run nor checked"
    check = _checks().get(_page_id(page))
    if check is not None:
        check(namespace)


def test_runner_finds_the_blocks():
    """The runner finds the blocks: every guide has at least one, and README its two set-up commands."""
    for page in (ROOT / "docs" / "guides").glob("*.md"):
        assert blocks(page), f"{page.name}: no code block found"
    readme_bash = [b.code.strip() for b in blocks(README, "bash")]
    assert readme_bash[:2] == list(NOT_RUN)[:2]


def test_ci_runs_readme_test_command():
    """``.ci/run`` runs README's test command verbatim."""
    test_command = [b.code.strip() for b in blocks(README, "bash")][1]
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_is_a_front_page():
    assert len(README.read_text().splitlines()) <= 200


def test_site_builds_strict(tmp_path):
    """``mkdocs build --strict``: a broken link, a missing page or a docstring that does not render fails it."""
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-5000:]
    api = {p: (site / "api" / p / "index.html").read_text() for p in ("mine_gan", "models", "callbacks")}
    for page, name in [
        ("mine_gan", "mine_gan.estimate_mi"),
        ("mine_gan", "mine_gan.MINE"),
        ("models", "mine_gan.models.InfoGAN"),
        ("models", "mine_gan.models.BiGAN"),
        ("callbacks", "mine_gan.callbacks.MutualInformationMonitor"),
    ]:
        assert f'id="{name}"' in api[page], f"no API entry for {name}"
    # Generated from the docstrings: the first line of estimate_mi's, with its maths rendered, no Sphinx markup.
    assert "Estimate the mutual information" in api["mine_gan"]
    assert 'class="arithmatex"' in api["mine_gan"] and ".. math::" not in api["mine_gan"]
    assert ":class:`" not in "".join(api.values())
    assert 'class="autorefs autorefs-internal"' in api["callbacks"]  # a role resolved into a link to its entry
    # The results pages, from the result files, with their pictures; the notebooks, rendered.
    gaussians = (site / "results" / "gaussian_mi" / "index.html").read_text()
    assert "<img" in gaussians and (site / "experiments" / "gaussian_mi" / "results" / "gaussian_mi_d1.png").exists()
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert (site / "notebooks" / notebook.stem / "index.html").exists()
    assert (site / "index.html").exists()  # README


def _sphinx_markup():
    spec = importlib.util.spec_from_file_location("griffe_sphinx_markup", ROOT / "docs" / "griffe_sphinx_markup.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstring_markup_for_the_site():
    """The Griffe extension's rewriting of a Google docstring's Sphinx markup, on a docstring of every form."""
    docstring = """Norm, :math:`\\|g\\|`, of :class:`MINE`, :class:`~mine_gan.MIRegularizer` and :func:`estimate_mi`.

    .. math:: a = b

    Args:
        grads: gradients, summed as

            .. math::

                \\|g\\| = \\sqrt{\\sum_k g_k^2}
                + 0

        other: see :meth:`torch.Tensor.norm`.

    Example:
        >>> 1 + 1
        2
    """
    names = {"MINE": "mine_gan.estimators.mine.MINE"}  # the names in the docstring's scope; estimate_mi is not

    def resolve(name: str) -> str:
        return names[name]

    expected = """Norm, $\\|g\\|$, of <autoref identifier="mine_gan.estimators.mine.MINE" optional><code>MINE</code>\
</autoref>, <autoref identifier="mine_gan.MIRegularizer" optional><code>MIRegularizer</code></autoref> and \
<autoref identifier="estimate_mi" optional><code>estimate_mi</code></autoref>.

    $$
    a = b
    $$


    Args:
        grads: gradients, summed as

            $$
            \\|g\\| = \\sqrt{\\sum_k g_k^2}
            + 0
            $$


        other: see <autoref identifier="torch.Tensor.norm" optional><code>torch.Tensor.norm</code></autoref>.

    Examples:
        >>> 1 + 1
        2
    """
    assert _sphinx_markup().sphinx_to_markdown(docstring, resolve) == expected
