"""GPU smoke test: the paths README gives a GPU user, run end to end on CUDA, with a table of what passed.

Usage (on a machine with at least one NVIDIA GPU, from the repository root)::

    python benchmarks/gpu_smoke.py                 # every check, about 5-10 minutes on one GPU
    python benchmarks/gpu_smoke.py --only fit,seeds --batches 20

Each check runs the real command line (``python -m mine_gan ...``) in a subprocess, shortened to a few
batches, or the public Python API in-process:

============== =================================================================================
fit            README's default fit (``mine-gan fit``) on one GPU: metrics, ``final/*``, pictures, checkpoint
image          an image YAML (``experiments/stacked_digits/gan_mine.yaml``): DCGANs, the Stacked MNIST histogram
seeds          ``--seeds 0,1`` on one GPU: each seed's pictures and ``final/*`` at the end of training
gpu_to_cpu     the GPU checkpoint of ``fit`` loaded on the CPU (``InfoGAN.load_from_checkpoint``, ``sample``)
               and resumed on the CPU: the streams are re-seeded with one warning
cpu_to_gpu     a CPU run's checkpoint resumed on the GPU (``--ckpt_path``): one re-seeding warning, then it trains
predict        ``mine-gan predict`` from the GPU checkpoint, on the GPU and on the CPU: the same samples
16-mixed       the default fit at ``--trainer.precision=16-mixed``: finite losses, gradient norms of the
               32-bit run's size (not the loss scale times it)
bf16-mixed     the same at ``bf16-mixed``
estimate_mi    ``estimate_mi`` on CUDA tensors: the estimate of a known MI, two ``seed=None`` calls that
               differ, the host-device syncs of a training step (``torch.cuda.set_sync_debug_mode``)
ddp            a 2-process DDP fit with the mode histogram, where 2 GPUs exist (skipped otherwise)
============== =================================================================================

``--rehearse-on-cpu`` runs the same checks with ``cuda`` replaced by the CPU (the GPU-only ones skipped:
``16-mixed``, the sync count, ``ddp``), to check the script itself on a machine without a GPU; it writes its
table under ``--workdir`` only.

It writes ``benchmarks/results/gpu_smoke.txt`` (the table) and ``benchmarks/results/gpu_smoke_meta.json``
(commit, command, device, torch and Lightning versions, per-check details); each check's output is kept
under ``--workdir``. The exit status is 0 when every check that ran passed, 1 otherwise, and 2 without a
CUDA GPU: then it writes nothing and says so (it cannot run on a CPU-only machine; the CPU-side causes of
GPU failures are pinned by ``tests/models/test_stream_devices.py``, ``tests/callbacks/test_end_of_training.py``
and ``tests/optim/test_mixed_precision.py``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CHECKS = ("fit", "image", "seeds", "gpu_to_cpu", "cpu_to_gpu", "predict")
CHECKS += ("16-mixed", "bf16-mixed", "estimate_mi", "ddp")
RESEEDED = "a generator's state cannot move between device types"


class CheckFailed(AssertionError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


class Smoke:
    def __init__(self, workdir: Path, batches: int, rehearse: bool = False) -> None:
        self.workdir, self.batches, self.rehearse = workdir, batches, rehearse
        self.accelerator, self.device = ("cpu", "cpu") if rehearse else ("gpu", "cuda")
        self.reseed_warnings = 0 if rehearse else 1  # resuming across device types warns once
        self.details: dict[str, dict] = {}

    # ------------------------------------------------------------------ helpers
    def cli(self, name: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        """``python -m mine_gan <args>`` with its output kept in ``<workdir>/<name>.log``; fails on a non-zero exit."""
        command = [sys.executable, "-m", "mine_gan", *args]
        done = subprocess.run(command, cwd=self.workdir, capture_output=True, text=True, timeout=timeout)
        (self.workdir / f"{name}.log").write_text(" ".join(command) + "\n\n" + done.stdout + "\n" + done.stderr)
        _require(done.returncode == 0, f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
        return done

    def fit_args(self, name: str, *config: str, accelerator: str | None = None, devices: int = 1) -> list[str]:
        accelerator = accelerator or self.accelerator
        return [
            "fit",
            *config,
            f"--trainer.accelerator={accelerator}",
            f"--trainer.devices={devices}",
            "--trainer.max_epochs=1",
            f"--trainer.limit_train_batches={self.batches}",
            "--trainer.limit_val_batches=2",
            "--trainer.log_every_n_steps=5",
            "--trainer.logger=CSVLogger",
            f"--trainer.logger.init_args.save_dir={self.workdir / name}",
            f"--trainer.default_root_dir={self.workdir / name}",
            "--trainer.enable_progress_bar=false",
        ]

    def rows(self, name: str, metrics: str = "metrics.csv") -> list[dict[str, str]]:
        files = sorted((self.workdir / name).rglob(metrics))
        _require(bool(files), f"no {metrics} under {self.workdir / name}")
        with files[-1].open() as f:
            return list(csv.DictReader(f))

    @staticmethod
    def last(rows: list[dict[str, str]], key: str) -> float:
        values = [float(r[key]) for r in rows if r.get(key)]
        _require(bool(values), f"{key} was never logged")
        return values[-1]

    def checkpoint(self, name: str) -> Path:
        found = sorted((self.workdir / name).rglob("last.ckpt"))
        _require(bool(found), f"no last.ckpt under {self.workdir / name}")
        return found[-1]

    # ------------------------------------------------------------------ checks
    def fit(self) -> dict:
        self.cli("fit", *self.fit_args("fit", "--torch_threads=null"))
        rows = self.rows("fit")
        result = {k: self.last(rows, k) for k in ("train/d_loss", "train/grad_norm_adv", "final/modes")}
        _require(all(math.isfinite(v) for v in result.values()), f"non-finite values {result}")
        pictures = [p.name for p in (self.workdir / "fit").rglob("*.png")]
        _require(any("samples" in p for p in pictures), f"no sample picture among {pictures}")
        self.checkpoint("fit")
        return result

    def image(self) -> dict:
        config = ["--config", str(ROOT / "experiments" / "stacked_digits" / "gan_mine.yaml"), "--torch_threads=null"]
        self.cli("image", *self.fit_args("image", *config), timeout=900)
        rows = self.rows("image")
        return {k: self.last(rows, k) for k in ("train/g_loss", "final/modes", "final/kl")}

    def seeds(self) -> dict:
        self.cli("seeds", *self.fit_args("seeds", "--torch_threads=null"), "--seeds", "0,1")
        result = {}
        for seed in (0, 1):
            result[f"seed_{seed}/final/modes"] = self.last(self._seed_rows(seed), "final/modes")
        return result

    def _seed_rows(self, seed: int) -> list[dict[str, str]]:
        files = sorted((self.workdir / "seeds").rglob(f"seed_{seed}/metrics.csv"))
        _require(bool(files), f"no seed_{seed}/metrics.csv")
        with files[-1].open() as f:
            return list(csv.DictReader(f))

    def gpu_to_cpu(self) -> dict:
        import warnings

        import torch

        from mine_gan.models import InfoGAN

        path = self.checkpoint("fit")
        saved = torch.load(path, map_location="cpu", weights_only=False)["mine_gan_random_stream"]
        _require(saved.get("device") == self.device, f"the GPU checkpoint's streams say {saved.get('device')!r}")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = InfoGAN.load_from_checkpoint(path, map_location="cpu")
            samples = model.sample(16, rng=torch.Generator().manual_seed(0))
        _require(samples.device.type == "cpu" and bool(torch.isfinite(samples).all()), "no finite CPU samples")
        _require(not [w for w in caught if RESEEDED in str(w.message)], "loading or sampling re-seeded the streams")
        done = self.cli(
            "gpu_to_cpu",
            *self.fit_args("gpu_to_cpu", accelerator="cpu"),
            "--trainer.max_epochs=2",
            f"--ckpt_path={path}",
        )
        warned = done.stderr.count(RESEEDED)
        _require(warned == self.reseed_warnings, f"resuming on the CPU warned {warned} times about the streams")
        return {"samples": tuple(samples.shape), "resumed_on_cpu": True}

    def cpu_to_gpu(self) -> dict:
        self.cli("cpu_run", *self.fit_args("cpu_run", accelerator="cpu"))
        done = self.cli(
            "cpu_to_gpu",
            *self.fit_args("cpu_to_gpu", "--torch_threads=null"),
            "--trainer.max_epochs=2",
            f"--ckpt_path={self.checkpoint('cpu_run')}",
        )
        warned = done.stderr.count(RESEEDED)
        _require(warned == self.reseed_warnings, f"resuming on the GPU warned {warned} times about the streams")
        return {"final/modes": self.last(self.rows("cpu_to_gpu"), "final/modes")}

    def predict(self) -> dict:
        import torch

        path = self.checkpoint("fit")
        out = {}
        for accelerator in (self.accelerator, "cpu"):
            script = (
                "import sys, torch\nfrom mine_gan.cli import cli\n"
                f"run = cli(['predict', '--ckpt_path={path}', '--trainer.accelerator={accelerator}', "
                "'--trainer.logger=false', '--trainer.enable_progress_bar=false'])\n"
                "batches = [b.cpu() for b in run.trainer.predict_loop.predictions]\n"
                f"torch.save(batches, '{self.workdir}/{accelerator}.pt')\n"
            )
            done = subprocess.run([sys.executable, "-c", script], cwd=self.workdir, capture_output=True, text=True)
            (self.workdir / f"predict_{accelerator}.log").write_text(done.stdout + "\n" + done.stderr)
            _require(done.returncode == 0, f"predict on {accelerator}: exit {done.returncode}")
            out[accelerator] = torch.load(self.workdir / f"{accelerator}.pt")
        rows = sum(b.shape[0] for b in out["cpu"])
        largest = max(float((a - b).abs().max()) for a, b in zip(out[self.accelerator], out["cpu"], strict=True))
        # The prediction streams are seeded per batch on the module's device: GPU and CPU draw differently.
        return {"rows": rows, "max |gpu - cpu|": largest}

    def precision(self, precision: str) -> dict:
        if self.rehearse and precision == "16-mixed":
            return {"skipped": "Lightning refuses 16-mixed on a CPU"}
        name = precision.replace("-", "_")
        self.cli(name, *self.fit_args(name, "--torch_threads=null"), f"--trainer.precision={precision}")
        rows = self.rows(name)
        result = {k: self.last(rows, k) for k in ("train/d_loss", "train/g_loss", "train/grad_norm_adv")}
        _require(all(math.isfinite(v) for v in result.values()), f"non-finite values {result}")
        if "fit" in self.details and "train/grad_norm_adv" in self.details["fit"]:
            ratio = result["train/grad_norm_adv"] / self.details["fit"]["train/grad_norm_adv"]
            result["grad_norm_adv / 32-bit's"] = ratio
            _require(0.1 < ratio < 10, f"gradient norm {ratio:.3g} times the 32-bit run's: a loss scale left in")
        return result

    def estimate_mi(self) -> dict:
        import warnings

        import torch

        from mine_gan import estimate_mi
        from mine_gan.estimators import MINE, ConcatCritic
        from mine_gan.estimators.training import train_estimator

        g = torch.Generator().manual_seed(0)
        n = 2_000 if self.rehearse else 10_000  # a rehearsal checks the calls, not the accuracy
        x = torch.randn(n, 5, generator=g)
        z = 0.8 * x + 0.6 * torch.randn(n, 5, generator=g)
        truth = -2.5 * math.log(1 - 0.64)
        device = self.device
        result = estimate_mi(x.to(device), z.to(device), seed=0, steps=200 if self.rehearse else None)
        if not self.rehearse:
            _require(abs(result.value - truth) < 0.3, f"estimate {result.value:.3f} for a true {truth:.3f}")
        unseeded = [estimate_mi(x.to(device), z.to(device), steps=50).value for _ in range(2)]
        _require(unseeded[0] != unseeded[1], "two seed=None calls gave the same estimate")
        if self.rehearse:
            return {"value": result.value, "truth": truth, "unseeded": unseeded, "syncs_per_step": "skipped"}
        estimator = MINE(ConcatCritic(5, 5, hidden_dims=(64,))).cuda()
        xs, zs = x[:2048].cuda(), z[:2048].cuda()
        steps = 50
        train_estimator(estimator, xs, zs, steps=5, batch_size=256, lr=1e-3)  # warm-up: allocations, kernels
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                train_estimator(
                    estimator, xs, zs, steps=steps, batch_size=256, lr=1e-3, every=steps,
                    device_rng=torch.Generator("cuda").manual_seed(0),
                )  # fmt: skip
            finally:
                torch.cuda.set_sync_debug_mode(0)
        syncs = len([w for w in caught if "synchroniz" in str(w.message)])
        return {"value": result.value, "truth": truth, "unseeded": unseeded, "syncs_per_step": syncs / steps}

    def ddp(self) -> dict:
        import torch

        if self.rehearse:
            return {"skipped": "a rehearsal on the CPU"}
        if torch.cuda.device_count() < 2:
            return {"skipped": f"{torch.cuda.device_count()} GPU, 2 needed"}
        self.cli("ddp", *self.fit_args("ddp", "--torch_threads=null", devices=2), "--trainer.strategy=ddp")
        return {"final/modes": self.last(self.rows("ddp"), "final/modes")}

    def run(self, name: str) -> None:
        method: Callable[[], dict] = {
            "16-mixed": lambda: self.precision("16-mixed"),
            "bf16-mixed": lambda: self.precision("bf16-mixed"),
        }.get(name) or getattr(self, name)
        start = time.perf_counter()
        try:
            detail, status = method(), "pass"
            if "skipped" in detail:
                status = "skip"
        except Exception as error:  # a failed check is a row of the table, not the end of the run
            detail = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc(limit=3)}
            status = "FAIL"
        detail["status"], detail["seconds"] = status, round(time.perf_counter() - start, 1)
        self.details[name] = detail
        shown = {k: v for k, v in detail.items() if k not in ("trace", "status", "seconds")}
        print(f"{name:12s} {status:5s} {detail['seconds']:7.1f}s  {shown}", flush=True)


def _meta(argv: list[str]) -> dict:
    import pytorch_lightning as pl
    import torch

    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout)
    return {
        "commit": commit,
        "uncommitted_changes": dirty,
        "command": " ".join([sys.executable, *argv]),
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (rehearsal)",
        "gpus": torch.cuda.device_count(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "lightning": pl.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Checks: " + ", ".join(CHECKS))
    parser.add_argument("--only", default=",".join(CHECKS), help="comma-separated checks to run (default: all)")
    parser.add_argument("--batches", type=int, default=100, help="training batches per fit (default: 100)")
    parser.add_argument("--workdir", type=Path, default=Path("runs/gpu_smoke"), help="where runs and logs go")
    parser.add_argument(
        "--rehearse-on-cpu", action="store_true", help="check the script itself on a CPU (table kept in --workdir)"
    )
    args = parser.parse_args(argv[1:])
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        parser.error(f"unknown checks {unknown}; choose among {', '.join(CHECKS)}")

    import torch

    if not torch.cuda.is_available() and not args.rehearse_on_cpu:
        print(
            "gpu_smoke: no CUDA GPU is visible to torch (torch.cuda.is_available() is False); this script checks "
            "the GPU paths and runs only on a machine with an NVIDIA GPU. Nothing was run or written.",
            file=sys.stderr,
        )
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    smoke = Smoke(args.workdir.resolve(), args.batches, rehearse=args.rehearse_on_cpu)
    for name in names:
        smoke.run(name)
    meta = {**_meta(argv), "checks": smoke.details}
    out = args.workdir if args.rehearse_on_cpu else RESULTS  # a rehearsal is not a GPU result
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"gpu_smoke at {meta['commit'][:7]} on {meta['device']} ({meta['gpus']} GPU), torch {meta['torch']}"]
    lines += [f"{'check':12s} {'status':6s} {'seconds':>8s}  details"]
    for name, detail in smoke.details.items():
        shown = {k: v for k, v in detail.items() if k not in ("trace", "status", "seconds")}
        lines.append(f"{name:12s} {detail['status']:6s} {detail['seconds']:8.1f}  {shown}")
    (out / "gpu_smoke.txt").write_text("\n".join(lines) + "\n")
    (out / "gpu_smoke_meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print("\n".join(lines))
    return 0 if all(d["status"] != "FAIL" for d in smoke.details.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
