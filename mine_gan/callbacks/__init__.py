"""Lightning callbacks: a DDP-shared MINE monitor for any run, pictures of samples, the final mode histogram."""

from mine_gan.callbacks.modes import ModeHistogram
from mine_gan.callbacks.mutual_information import MutualInformationMonitor
from mine_gan.callbacks.samples import SamplePictures
from mine_gan.callbacks.seed_checkpoints import SeedCheckpoints

__all__ = [
    "ModeHistogram",
    "MutualInformationMonitor",
    "SamplePictures",
    "SeedCheckpoints",
]
