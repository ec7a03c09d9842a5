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
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mine_gan.callbacks import MutualInformationMonitor
from mine_gan.estimators import ConcatCritic, ConvCritic
from mine_gan.models import BiGAN, InfoGAN
from mine_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPEncoder, MLPGenerator

GLOBAL_BATCH = 16
ITERATIONS = 20
WORLD = 2
VARIANTS = ("infogan_mine", "infogan_shared", "infogan_q", "bigan_mine", "infogan_dcgan_batch_norm")
IMAGE_SHAPE = (1, 16, 16)  # the DCGAN variant's images


def global_batches(shape: tuple[int, ...] = (2,)) -> torch.Tensor:
    """``(ITERATIONS, GLOBAL_BATCH, *shape)``: the real data, one global batch per iteration."""
    return torch.randn(ITERATIONS, GLOBAL_BATCH, *shape, generator=torch.Generator().manual_seed(123)) * 2


def loader(rank: int, world: int, shape: tuple[int, ...] = (2,)) -> DataLoader:
    per_rank = GLOBAL_BATCH // world
    rows = global_batches(shape)[:, rank * per_rank : (rank + 1) * per_rank].reshape(-1, *shape)
    return DataLoader(TensorDataset(rows), batch_size=per_rank, shuffle=False)


def _without_bias_before_batch_norm(network: nn.Module) -> nn.Module:
    """``network`` with the bias of each layer that feeds a batch norm removed.

    Batch norm subtracts the batch mean, so such a bias has zero gradient in exact arithmetic; Adam divides
    the rounding noise of that zero by its ``eps`` and moves the bias (and the running mean) by up to
    ``lr/100`` a step, differently in any two runs. Without it the layer computes the same function.
    """
    layers = list(network.modules())
    for layer, following in zip(layers[:-1], layers[1:], strict=True):
        if isinstance(following, nn.modules.batchnorm._BatchNorm) and getattr(layer, "bias", None) is not None:
            del layer.bias
            layer.register_parameter("bias", None)
    return network


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
    if variant == "infogan_dcgan_batch_norm":
        # Batch norm in G (BatchNorm1d and 2d): on 2 processes it must normalize with the global batch.
        model = InfoGAN(
            _without_bias_before_batch_norm(DCGANGenerator(5, 1, 16, base_channels=4)),
            DCGANDiscriminator(1, 16, base_channels=4, hidden_dim=16),
            noise_dim=2,
            categorical_dims=[3],
            critic=ConvCritic(1, 16, 3, base_channels=4, hidden_dims=(16,)),
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
    shape = IMAGE_SHAPE if variant == "infogan_dcgan_batch_norm" else (2,)
    trainer.fit(model, loader(trainer.global_rank, world, shape))
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
