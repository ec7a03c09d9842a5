"""Bad values on the ``mine-gan`` command line end with one line naming the key and the value, and exit 2;
bugs keep their traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mine_gan.cli import cli, main
from mine_gan.data import GaussianMixture

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
# Lightning's "Seed set to 0", then the error: anything longer is a traceback or a dump of the namespace.
MAX_LINES = 3


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JSONARGPARSE_DEBUG", raising=False)
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _refused(args: list[str], capsys) -> list[str]:
    """The lines ``mine-gan fit <args>`` prints when it refuses a value (it must exit with status 2)."""
    with pytest.raises(SystemExit) as exit_info:
        cli(["fit", *args, "--trainer.fast_dev_run=true", *QUIET])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    return (captured.out + captured.err).strip().splitlines()


@pytest.mark.parametrize(
    ("override", "last_line"),
    [
        ("--model.init_args.mi_weight=-1", "error: model.init_args.mi_weight: `mi_weight` must be >= 0, got -1.0"),
        ("--data.init_args.batch_size=0", "error: data.init_args.batch_size: `batch_size` must be > 0, got 0"),
        ("--data.init_args.std=-1", "error: data.init_args.std: `std` must be > 0, got -1.0"),
        # A network inside the model: the nested key, and the value given (the message names one element).
        (
            "--model.init_args.generator.init_args.hidden_dims=[16,-3]",
            "error: model.init_args.generator.init_args.hidden_dims=[16, -3]: `hidden_dims` must be positive, got -3",
        ),
        # A check across arguments whose message does not repeat the value: the key gets it.
        (
            "--model.init_args.categorical_dims=[]",
            "error: model.init_args.categorical_dims=[]: an MI term needs a code: set `categorical_dims` or "
            "`continuous_dim` (or mi_weight=0)",
        ),
        ("--torch_threads=0", "error: torch_threads: `torch_threads` must be >= 1 or null, got 0"),
    ],
)
def test_bad_value_ends_with_one_line_naming_key_and_value(override, last_line, capsys):
    lines = _refused([override], capsys)
    assert lines[-1] == last_line
    assert len(lines) <= MAX_LINES, lines
    assert not any("Traceback" in line or "Namespace(" in line for line in lines)


def test_trainer_refusal_names_the_trainer_key(capsys):
    # Lightning's own check (a MisconfigurationException), found in the Trainer's constructor.
    lines = _refused(["--trainer.max_epochs=-5"], capsys)
    assert lines[-1].startswith("error: trainer.max_epochs: ") and "-5" in lines[-1]
    assert len(lines) <= MAX_LINES, lines


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["--config", "nope.yaml"], "error: config: no such file: "),
        (
            ["--model.init_args.mi_wieght=1"],
            "error: model.init_args.mi_wieght: InfoGAN takes no argument `mi_wieght`; did you mean `mi_weight`?",
        ),
        (
            ["--model.init_args.generator.init_args.hidden_dim=3"],
            "error: model.init_args.generator.init_args.hidden_dim: MLPGenerator takes no argument `hidden_dim`; "
            "did you mean `hidden_dims`?",
        ),
        (["--model.init_args.d_steps=two"], "error: model.init_args.d_steps: expected int, got 'two'"),
        # A GAN's type offers only the decays it runs: the bottleneck's per-epoch one is refused while parsing.
        (
            ["--model.init_args.lr_decay=exponential"],
            "error: model.init_args.lr_decay: expected Literal['none', 'linear'], got 'exponential'",
        ),
        (
            ["--trainer.max_epochz=3"],
            "error: unknown option --trainer.max_epochz=3; did you mean `--trainer.max_epochs`?",
        ),
        (["--trainer.precision=bogus"], "error: trainer.precision: expected "),
    ],
    ids=[
        "missing_file",
        "unknown_key",
        "unknown_nested_key",
        "wrong_type",
        "value_not_offered",
        "unknown_option",
        "union",
    ],
)
def test_a_typo_is_one_line_naming_the_key(args, first_line, capsys):
    # Refused by the parser before anything is built: no usage dump, no nested Union report.
    with pytest.raises(SystemExit) as exit_info:
        cli(["fit", *args, *QUIET])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith(first_line), lines
    assert lines[-1] == "(`mine-gan fit --help` lists every option)"
    assert len(lines) <= MAX_LINES, lines


def test_help_stays_complete(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(["fit", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--trainer.max_epochs" in out and "--seeds" in out and "--ckpt_path" in out and len(out.splitlines()) > 100


def test_debug_mode_keeps_the_parsers_own_report(monkeypatch, capsys):
    monkeypatch.setenv("JSONARGPARSE_DEBUG", "true")
    with pytest.raises(Exception, match="mi_wieght"):
        cli(["fit", "--model.init_args.mi_wieght=1", *QUIET])


class _BrokenData(GaussianMixture):
    """A data module with a bug in its constructor (importable by class path from this test module)."""

    def __init__(self, fault: str = "division", batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        if fault == "division":
            _ = batch_size / 0
        elif fault == "unnamed":
            int("thirty-two")  # a ValueError that names no argument
        elif fault == "internal":
            raise ValueError("`_cache` is not ready")  # names something the configuration does not give
        self.fault = fault

    def setup(self, stage: str) -> None:
        if self.fault == "in_setup":  # names a configured argument, but once training has started
            raise ValueError(f"`batch_size` {self.batch_size} does not fit")
        super().setup(stage)


@pytest.mark.parametrize(
    ("fault", "exception", "message"),
    [
        ("division", ZeroDivisionError, "division by zero"),
        ("unnamed", ValueError, "invalid literal for int"),
        ("internal", ValueError, "`_cache` is not ready"),
        ("in_setup", ValueError, "does not fit"),
    ],
)
def test_bugs_and_errors_after_building_keep_their_traceback(fault, exception, message):
    args = ["fit", f"--data={__name__}._BrokenData", f"--data.init_args.fault={fault}", "--trainer.fast_dev_run=true"]
    with pytest.raises(Exception) as info:  # not SystemExit: that would escape pytest.raises(Exception)
        cli([*args, *QUIET])
    chain, error = [], info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, exception) and message in str(e) for e in chain), chain


def test_debug_mode_keeps_the_traceback_of_a_refusal(monkeypatch):
    monkeypatch.setenv("JSONARGPARSE_DEBUG", "true")  # jsonargparse's spelling
    with pytest.raises(ValueError) as info:
        cli(["fit", "--model.init_args.mi_weight=-1", "--trainer.fast_dev_run=true", *QUIET])
    assert "`mi_weight` must be >= 0, got -1.0" in str(info.value.__cause__ or info.value)


def test_main_reads_the_console_arguments_and_exits_2(monkeypatch, capsys):
    # main() is the console entry point: LightningCLI reads sys.argv itself there.
    monkeypatch.setattr(sys, "argv", ["mine-gan", "fit", "--data.init_args.batch_size=0", *QUIET])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == "error: data.init_args.batch_size: `batch_size` must be > 0, got 0"
    assert len(lines) <= MAX_LINES, lines


@pytest.mark.slow
def test_console_command_exits_2_with_the_key_on_its_last_line(tmp_path):
    """The installed ``mine-gan`` as a user runs it: nothing but the error line after Lightning's seed line."""
    command = shutil.which("mine-gan", path=str(Path(sys.executable).parent)) or shutil.which("mine-gan")
    assert command, "the `mine-gan` console script is not installed next to this Python"
    env = {k: v for k, v in os.environ.items() if k != "JSONARGPARSE_DEBUG"}
    done = subprocess.run(
        [command, "fit", "--model.init_args.mi_weight=-1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert lines[-1] == "error: model.init_args.mi_weight: `mi_weight` must be >= 0, got -1.0"
    assert len(lines) <= MAX_LINES, lines
    assert not list(tmp_path.iterdir())  # nothing was built: no run directory
