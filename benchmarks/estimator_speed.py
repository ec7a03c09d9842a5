"""Training steps per second of ``mine_gan.MINE`` against a minimal hand-written PyTorch loop.

Both train the same critic architecture (same initial weights) on the same batches with Adam and
the EMA-corrected Donsker–Varadhan gradient; the hand-written loop is the ceiling. Target: MINE reaches
>= 0.9 of the hand-written loop's speed at batch 256.

    python benchmarks/estimator_speed.py [--batch-sizes 64 256 1024] [--steps 500] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import statistics
import time

import torch

from mine_gan import MINE, ConcatCritic
from mine_gan.data.correlated_gaussians import correlated_gaussians


def hand_written_steps(critic, batches, lr: float, decay: float = 0.99) -> None:
    optimizer = torch.optim.Adam(critic.parameters(), lr=lr)
    ema = None
    for x, z in batches:
        t_joint = critic(x, z)
        t_marg = critic(x, z[torch.randperm(len(z), device=z.device)])
        batch_log_mean = torch.logsumexp(t_marg.detach(), 0) - math.log(len(t_marg))
        ema = (
            batch_log_mean
            if ema is None
            else torch.logaddexp(ema + math.log(decay), batch_log_mean + math.log(1 - decay))
        )
        loss = -(t_joint.mean() - torch.exp(t_marg - ema).mean())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def library_steps(critic, batches, lr: float, decay: float = 0.99) -> None:
    mine = MINE(critic, bound="mine", ema_decay=decay)
    optimizer = torch.optim.Adam(mine.parameters(), lr=lr)
    for x, z in batches:
        loss = mine.loss(x, z)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def time_it(fn, critic, batches, device) -> float:
    critic = copy.deepcopy(critic)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(critic, batches, 1e-3)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(batches) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU"
    print(
        f"device: {name}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"critic ConcatCritic({args.dim}, {args.dim}, (256, 256)), {args.steps} steps, best and median of "
        f"{args.repeats} alternating repeats\n"
    )
    print("| batch | hand-written steps/s | MINE steps/s | ratio (median) | ratio (best) |")
    print("|---|---|---|---|---|")
    for batch_size in args.batch_sizes:
        torch.manual_seed(0)
        critic = ConcatCritic(args.dim, args.dim).to(device)
        x, z = correlated_gaussians(batch_size * args.steps, args.dim, 0.8, torch.Generator().manual_seed(0))
        x, z = x.to(device), z.to(device)
        batches = list(zip(x.split(batch_size), z.split(batch_size), strict=True))
        time_it(library_steps, critic, batches[:20], device)  # warm-up
        time_it(hand_written_steps, critic, batches[:20], device)
        hand, lib = [], []
        for _ in range(args.repeats):  # alternate so that machine load hits both alike
            hand.append(time_it(hand_written_steps, critic, batches, device))
            lib.append(time_it(library_steps, critic, batches, device))
        ratios = [a / b for a, b in zip(lib, hand, strict=True)]
        print(
            f"| {batch_size} | {statistics.median(hand):.0f} | {statistics.median(lib):.0f} | "
            f"{statistics.median(ratios):.3f} | {max(lib) / max(hand):.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
