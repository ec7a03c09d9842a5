"""Pure tensor functions: MI bounds, MINE's moving-average correction, adaptive gradient clipping.

Nothing here holds state or imports the rest of the package.
"""

from mine_gan.functional.bounds import donsker_varadhan, infonce, jensen_shannon, logmeanexp, nwj, smile
from mine_gan.functional.clip import adaptive_clip, global_norm
from mine_gan.functional.ema import ema_log_update, mine_lower_bound

__all__ = [
    "adaptive_clip",
    "donsker_varadhan",
    "ema_log_update",
    "global_norm",
    "infonce",
    "jensen_shannon",
    "logmeanexp",
    "mine_lower_bound",
    "nwj",
    "smile",
]
