"""The GAN modules on 1 process at batch 2B or 2 DDP processes at batch B, for the equality tests.

Run as a script it trains every variant on ``--world`` processes and saves each rank's final state to
``--out/rank<r>.pt``; the tests import :func:`fit_all` for the single-process references.

Rank ``r`` reads rows ``[rB, (r + 1)B)`` of every global batch of :func:`global_batches`; one process
reads whole global batches. Both therefore see the same global batches, and the modules draw the same
global latents from their shared random stream, so the two runs must agree up to float rounding.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from mine_gan.callbacks import MutualInformationMonitor
from mine_gan.estimators import ConcatCritic
from mine_gan.models import BiGAN, InfoGAN
from mine_gan.nets import MLPDiscriminator, MLPEncoder, MLPGenerator

GLOBAL_BATCH = 16
ITERATIONS = 20
WORLD = 2
VARIANTS = ("infogan_mine", "infogan_shared", "infogan_q", "bigan_mine")


def global_batches() -> torch.Tensor:
    """``(ITERATIONS, GLOBAL_BATCH, 2)``: the real data, one global batch per iteration."""
    return torch.randn(ITERATIONS, GLOBAL_BATCH, 2, generator=torch.Generator().manual_seed(123)) * 2


def loader(rank: int, world: int) -> DataLoader:
    per_rank = GLOBAL_BATCH // world
    rows = global_batches()[:, rank * per_rank : (rank + 1) * per_rank].reshape(-1, 2)
    return DataLoader(TensorDataset(rows), batch_size=per_rank, shuffle=False)


def build(variant: str) -> tuple[pl.LightningModule, list[pl.Callback]]:
    torch.manual_seed(0)
    common = {"lr_g": 1e-3, "lr_d": 1e-3, "lr_mi": 1e-3}
    if variant == "bigan_mine":
        model = BiGAN(
            MLPGenerator(3, 2, hidden_dims=(16,)),
            MLPEncoder(2, 3, hidden_dims=(16,)),
            MLPDiscriminator(2, hidden_dims=(16,), latent_dim=3),
            critic=ConcatCritic(2, 3, hidden_dims=(16,)),
            d_penalty=1.0,
            **common,
        )
        return model, []
    q = variant == "infogan_q"
    shared = variant == "infogan_shared"
    model = InfoGAN(
        MLPGenerator(5, 2, hidden_dims=(16,)),
        MLPDiscriminator(2, hidden_dims=(16,), code_dim=3 if q else 0),
        noise_dim=2,
        categorical_dims=[3],
        mi="q" if q else "mine",
        mi_source="shared" if shared else "own",
        critic=None if q or shared else ConcatCritic(2, 3, hidden_dims=(16,)),
        d_penalty=1.0,
        d_penalty_points="interpolates" if q else "real",
        mi_penalty=0.0 if q or shared else 1.0,
        **common,
    )
    if not shared:
        return model, []
    monitor = MutualInformationMonitor(
        pairs=["code"], critic=ConcatCritic(2, 3, hidden_dims=(16,)), lr_mi=1e-3, every_n_steps=1, heldout=False
    )
    return model, [monitor]


def fit(variant: str, world: int) -> dict[str, Any]:
    model, callbacks = build(variant)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=world,
        strategy="ddp" if world > 1 else "auto",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        limit_val_batches=0,
        callbacks=callbacks,
    )
    first: list[torch.Tensor] = []  # the generator's input at the first training step
    model.generator.register_forward_hook(
        lambda m, inputs, out: first.append(inputs[0].detach().clone()) if not first else None
    )
    trainer.fit(model, loader(trainer.global_rank, world))
    state = {f"model/{k}": v.detach().clone() for k, v in model.state_dict().items()}
    for callback in callbacks:
        state.update({f"monitor/{k}": v.clone() for k, v in callback.shared_estimator("code").state_dict().items()})
    return {"state": state, "steps": trainer.global_step, "rank": trainer.global_rank, "first_latent": first[0]}


def fit_all(world: int) -> dict[str, dict[str, Any]]:
    return {variant: fit(variant, world) for variant in VARIANTS}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=int, default=WORLD)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = fit_all(args.world)
    torch.save(results, args.out / f"rank{results[VARIANTS[0]]['rank']}.pt")
