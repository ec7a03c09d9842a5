"""Pure tensor functions: MI bounds (and their streaming statistics), MINE's moving-average correction,
adaptive gradient clipping, deep VIB's KL upper bound.

Nothing here holds state or imports the rest of the package.
"""

from mine_gan.functional.bounds import (
    SET_BOUNDS,
    BoundStatistics,
    SetBound,
    bound_from_statistics,
    bound_statistics,
    bound_stderr,
    donsker_varadhan,
    infonce,
    jensen_shannon,
    logmeanexp,
    merge_bound_statistics,
    nwj,
    smile,
)
from mine_gan.functional.clip import adaptive_clip, global_norm
from mine_gan.functional.ema import ema_log_update, mine_lower_bound
from mine_gan.functional.variational import kl_to_standard_normal

__all__ = [
    "SET_BOUNDS",
    "BoundStatistics",
    "SetBound",
    "adaptive_clip",
    "bound_from_statistics",
    "bound_statistics",
    "bound_stderr",
    "donsker_varadhan",
    "ema_log_update",
    "global_norm",
    "infonce",
    "kl_to_standard_normal",
    "jensen_shannon",
    "logmeanexp",
    "merge_bound_statistics",
    "mine_lower_bound",
    "nwj",
    "smile",
]
