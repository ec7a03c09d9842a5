"""The image studies of issue 25 (experiments/stacked_digits/study.py, tune.py; experiments/bigan_digits/run.py):
rows written as they finish and kept by a rerun, the learning curve, paired intervals, the equal-wall length."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
sys.path.insert(0, str(ROOT / "experiments" / "stacked_digits"))
from harness import StudyRows, _fit_command, from_config  # noqa: E402


def _load(name: str, path: Path):
    """A study script by path (several experiment folders have a ``run.py``)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


study = _load("stacked_study", ROOT / "experiments" / "stacked_digits" / "study.py")
tune = _load("stacked_tune", ROOT / "experiments" / "stacked_digits" / "tune.py")
TINY = ["--overrides=--data.init_args.num_samples=256", "--overrides=--data.init_args.num_val_samples=64"]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_rows_are_in_the_file_as_soon_as_added_and_a_rerun_keeps_them(tmp_path):
    path = tmp_path / "rows.csv"
    rows = StudyRows(path)
    rows.add({"variant": "GAN", "seed": 0, "modes": 512, "config": "a"})
    assert [r["variant"] for r in _csv(path)] == ["GAN"]
    rows.add({"variant": "GAN+MINE", "seed": 0, "modes": 640, "kl": 1.5, "config": "a"})
    again = StudyRows(path)
    assert again.done("GAN+MINE", 0, config="a") == {"variant": "GAN+MINE", "seed": 0, "modes": 640, "kl": 1.5,
                                                      "config": "a"}  # fmt: skip
    assert again.done("GAN", 0, config="b") is None  # another configuration: not done
    again.add({"variant": "GAN", "seed": 0, "modes": 700, "config": "b"})  # replaces the old row, keeps the other
    assert sorted((r["variant"], r["modes"], r["config"]) for r in _csv(path)) == [
        ("GAN", "700", "b"),
        ("GAN+MINE", "640", "a"),
    ]


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path):
    config = ROOT / "experiments" / "stacked_digits" / "gan_small_d.yaml"
    assert not any(a.startswith("--ckpt_path") for a in _fit_command(config, tmp_path / "r", [], [], 1))
    last = tmp_path / "r" / "run" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    assert f"--ckpt_path={last}" in _fit_command(config, tmp_path / "r", [], [], 1)


def test_equal_wall_iterations_come_from_the_measured_seconds():
    rows = [{"variant": "GAN", "seed": s, "train_seconds": 50.0 + 10 * s, "iterations": 1000} for s in (0, 1)]
    assert study.equal_wall_iterations(rows, [0, 1], epoch=100) is None  # GAN+MINE not measured yet
    rows += [
        {"variant": "GAN+MINE", "seed": s, "train_seconds": t, "iterations": 1000} for s, t in ((0, 140.0), (1, 160.0))
    ]
    # GAN: 0.055 s per iteration on average; GAN+MINE took 150 s on average: 2,727 iterations, 2,700 in whole epochs.
    assert study.equal_wall_iterations(rows, [0, 1], epoch=100) == 2700
    faster = [{**r, "train_seconds": 10.0} if r["variant"] == "GAN+MINE" else r for r in rows]
    assert study.equal_wall_iterations(faster, [0, 1], epoch=100) == 1000  # never fewer than the GAN's own


def test_paired_cell_is_the_paired_t_interval():
    rows = [{"variant": v, "seed": s, "modes": m} for v, s, m in
            [("GAN", 0, 1.0), ("GAN", 1, 2.0), ("GAN", 2, 3.0), ("GAN+MINE", 0, 1.5), ("GAN+MINE", 1, 2.4),
             ("GAN+MINE", 2, 3.6)]]  # fmt: skip
    assert study.paired_cell(rows, "GAN", "GAN+MINE", "modes") == "+0.5 [+0.252, +0.748] * (n=3)"
    assert study.paired_cell(rows[:4], "GAN", "GAN+MINE", "modes") == "—"  # one pair: no interval


def test_per_epoch_follows_the_overrides_and_the_curve_is_whole_epochs():
    config = ROOT / "experiments" / "stacked_digits" / "gan_mine_small_d.yaml"
    assert study.per_epoch(config) == 1000
    assert all(point % study.per_epoch(config) == 0 for point in (*study.CURVE, study.ITERATIONS))
    assert study.per_epoch(config, ["--data.init_args.num_samples=256"]) == 4


def test_study_callbacks_keep_the_yaml_pictures_and_add_the_timer():
    callbacks = json.loads(study.study_callbacks(ROOT / "experiments" / "stacked_digits" / "gan_small_d.yaml")
                           .removeprefix("--trainer.callbacks="))  # fmt: skip
    names = [c["class_path"].rsplit(".", 1)[-1] for c in callbacks]
    assert names == ["ModelCheckpoint", "SamplePictures", "Timer"]
    assert callbacks[0]["init_args"]["save_top_k"] == -1 and callbacks[0]["init_args"]["every_n_epochs"] == 1


def test_tuning_rule_does_not_buy_coverage_with_quality():
    summary = {
        "yaml": {"modes": 500, "kl": 2.0, "confident_pct": 20.0, "frechet": 400.0},
        "noise-like": {"modes": 950, "kl": 0.5, "confident_pct": 12.0, "frechet": 1500.0},
        "blurry": {"modes": 800, "kl": 0.9, "confident_pct": 21.0, "frechet": 520.0},  # 1.3x the YAML's distance
        "better": {"modes": 700, "kl": 1.2, "confident_pct": 19.0, "frechet": 450.0},
    }
    assert tune.choose(summary, "yaml") == "better"
    assert tune.choose({"yaml": summary["yaml"]}, "yaml") == "yaml"


@pytest.mark.parametrize(
    ("family", "name"), [(f, n) for f, members in tune.CANDIDATES.items() for n in members if members[n]]
)
def test_every_tuning_candidate_builds_its_model(family, name):
    # The model is built (not trained): an override that parses but does not fit the networks fails here.
    model, _ = from_config(study.CONFIGS[family], 100, tune.CANDIDATES[family][name])
    hparams = {"lr_mi=1e-3": ("lr_mi", 1e-3), "mi_weight=10": ("mi_weight", 10.0), "no clip": ("clip", None),
               "lr=5e-4": ("lr_g", 5e-4), "entropy form (mi_target=latent)": ("mi_target", "latent")}  # fmt: skip
    if name in hparams:
        key, value = hparams[name]
        assert model.hparams[key] == value
    if name.startswith("critic"):
        assert model.mine.critic.encoder[0].out_channels == int(name.rsplit("=", 1)[-1])
    if name.startswith("code"):
        assert model.code.dim == 10 * int(name.split()[1]) and model.generator.latent_dim == 64 + model.code.dim


def test_tuning_refuses_the_study_seeds():
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "stacked_digits" / "tune.py"), "--seeds", "0"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode != 0 and "tuning seeds must be >= 100" in done.stderr


@pytest.mark.slow
def test_study_end_to_end_at_a_tiny_scale_and_rerun(tmp_path):
    command = [sys.executable, str(ROOT / "experiments" / "stacked_digits" / "study.py"), "--seeds", "0", "1",
               "--iterations", "8", "--curve", "4", "--eval-samples", "100", "--jobs", "2", *TINY,
               "--results", str(tmp_path / "results"), "--runs", str(tmp_path / "runs"), "--name", "tiny"]  # fmt: skip
    _run(command)
    rows = _csv(tmp_path / "results" / "stacked_digits_tiny.csv")
    assert list(rows[0])[:8] == [
        "variant",
        "seed",
        "iterations",
        "image_size",
        "modes",
        "kl",
        "confident_pct",
        "frechet",
    ]
    assert sorted((r["variant"], r["seed"]) for r in rows) == sorted(
        [("real", "0"), ("noise", "0")]
        + [(v, s) for v in ("GAN", "GAN+MINE", "GAN (GAN+MINE's wall time)") for s in ("0", "1")]
    )
    by = {(r["variant"], int(r["seed"])): r for r in rows}
    for variant in ("GAN", "GAN+MINE"):  # the learning curve: scored at 4 iterations, a real number of modes
        assert all(0 <= int(by[(variant, s)]["modes_4"]) <= 1000 for s in (0, 1))
        assert all(by[(variant, s)]["image_size"] == "28" for s in (0, 1))
    meta = json.loads((tmp_path / "results" / "meta_tiny.json").read_text())
    assert meta["complete"] and meta["commit"]
    measured = [{**r, "seed": int(r["seed"])} for r in rows if r["variant"] in ("GAN", "GAN+MINE")]
    assert meta["equal_wall_iterations"] == study.equal_wall_iterations(measured, [0, 1], epoch=4)
    assert all(
        int(by[("GAN (GAN+MINE's wall time)", s)]["iterations"]) == meta["equal_wall_iterations"] for s in (0, 1)
    )
    table = (tmp_path / "results" / "stacked_digits_tiny.md").read_text()
    assert "GAN+MINE − GAN" in table and "(n=2)" in table and "complete." in table
    assert (tmp_path / "results" / "samples_tiny.png").exists()

    # A rerun trains nothing: every row is kept as it was (its measured seconds to the digit).
    checkpoints = {p: p.stat().st_mtime for p in (tmp_path / "runs").rglob("last.ckpt")}
    _run(command)
    assert _csv(tmp_path / "results" / "stacked_digits_tiny.csv") == rows
    assert {p: p.stat().st_mtime for p in (tmp_path / "runs").rglob("last.ckpt")} == checkpoints


@pytest.mark.slow
def test_bigan_rows_resume_and_pair(tmp_path):
    command = [sys.executable, str(ROOT / "experiments" / "bigan_digits" / "run.py"), "--scale", "small", "--seeds",
               "0", "1", "--epochs", "1", "--overrides=--trainer.limit_train_batches=2",
               "--overrides=--trainer.limit_val_batches=1", "--results", str(tmp_path / "results"), "--runs",
               str(tmp_path / "runs")]  # fmt: skip
    _run(command)
    rows = _csv(tmp_path / "results" / "bigan_digits_small.csv")
    assert {"variant", "seed", "recon_error", "recon_accuracy_pct", "test_images"} <= set(rows[0])
    assert len(rows) == 6 and {r["test_images"] for r in rows} == {"1000"}
    table = (tmp_path / "results" / "bigan_digits_small.md").read_text()
    assert "recon_accuracy_pct, ALI+MINE − ALI" in table and "over 2 paired seeds" in table
    assert json.loads((tmp_path / "results" / "meta_small.json").read_text())["complete"]
    assert (tmp_path / "results" / "reconstructions_small.png").exists()
    _run(command)
    assert _csv(tmp_path / "results" / "bigan_digits_small.csv") == rows
    assert not math.isnan(float(rows[0]["recon_error"]))
