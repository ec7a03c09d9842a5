"""Suite-wide settings: offline W&B, deterministic CPU runs."""

import os

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
