"""The training recipe's choices and their checks, named once for the whole package.

Every module that takes one of these arguments annotates it with the Literal defined here and checks it
with the functions here, so a choice has one name, one type and one error message everywhere:

==================  =====================================================================================
``Clip``            ``"adaptive"`` (eq. 21) or ``None``: how the MI gradient is clipped against the main one
``GANLRDecay``      ``"none"`` or ``"linear"`` (to 0 over ``trainer.estimated_stepping_batches``): the GANs'
``LRDecay``         those and ``"exponential"`` (times ``lr_decay_rate`` after every epoch): the information
                    bottleneck's. Each module's type offers only the values it accepts, so the CLI refuses
                    the others when it parses them
``AdversarialLoss`` ``"non_saturating"`` or ``"hinge"``
``PenaltyPoints``   ``"real"`` (R1) or ``"interpolates"``: where D's zero-centred gradient penalty is taken
==================  =====================================================================================

The vocabulary that goes with them: ``mi_weight`` is β, the weight of the MI term; ``lr_mi`` is the
learning rate of MINE's statistics network (the critic); a ``torch.Generator`` argument is called ``rng``
(``generator`` is the G network). MINE's moving-average decay γ is ``ema_decay`` wherever an estimator or a
function owns it (:class:`~mine_gan.MINE`, the monitor, :mod:`mine_gan.functional`), and its bound is
``bound``; a model that owns a MINE among other parts takes them as ``mi_ema_decay`` and ``mi_bound``, the
``mi_`` prefix of every MI-term argument of a model (``mi_weight``, ``mi_penalty``), and passes them on as
``ema_decay`` and ``bound``.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from mine_gan.validation import check_choice, check_positive, check_unit_interval

__all__ = [
    "ADVERSARIAL_LOSSES",
    "CLIPS",
    "GAN_LR_DECAYS",
    "LR_DECAYS",
    "GANLRDecay",
    "PENALTY_POINTS",
    "AdversarialLoss",
    "Clip",
    "LRDecay",
    "PenaltyPoints",
    "check_clip",
    "check_gan_recipe",
    "check_lr_decay",
    "check_mi_weight",
]

Clip = Literal["adaptive"]
CLIPS: tuple[str, ...] = get_args(Clip)
#: the decays the GAN modules offer (their schedules run per iteration, not per epoch)
GANLRDecay = Literal["none", "linear"]
GAN_LR_DECAYS: tuple[str, ...] = get_args(GANLRDecay)
LRDecay = Literal["none", "linear", "exponential"]
LR_DECAYS: tuple[str, ...] = get_args(LRDecay)
AdversarialLoss = Literal["non_saturating", "hinge"]
ADVERSARIAL_LOSSES: tuple[str, ...] = get_args(AdversarialLoss)
PenaltyPoints = Literal["real", "interpolates"]
PENALTY_POINTS: tuple[str, ...] = get_args(PenaltyPoints)


def check_clip(clip: Any) -> None:
    """``ValueError`` unless ``clip`` is ``"adaptive"`` or ``None`` (a bool is refused, naming the values).

    Example:
        >>> check_clip(True)
        Traceback (most recent call last):
        ...
        ValueError: `clip` must be one of ['adaptive', None], got True
    """
    if isinstance(clip, bool) or clip not in (*CLIPS, None):
        raise ValueError(f"`clip` must be one of {[*CLIPS, None]}, got {clip!r}")


def check_mi_weight(mi_weight: Any) -> None:
    """``ValueError`` unless ``mi_weight`` (β) is a number ``>= 0``."""
    if isinstance(mi_weight, bool) or not isinstance(mi_weight, (int, float)):
        raise ValueError(f"`mi_weight` must be a number >= 0, got {mi_weight!r}")
    check_positive("mi_weight", mi_weight, strict=False)


def check_lr_decay(lr_decay: Any, allowed: tuple[str, ...] = LR_DECAYS) -> None:
    """``ValueError`` unless ``lr_decay`` is one of ``allowed`` (a subset of :data:`LR_DECAYS`)."""
    check_choice("lr_decay", lr_decay, allowed)


def check_gan_recipe(
    *,
    clip: Any,
    adversarial: Any,
    mi_weight: Any,
    mi_ema_decay: float,
    d_steps: Any,
    d_penalty: float,
    d_penalty_points: Any,
    mi_penalty: float,
    lr_decay: Any,
    **learning_rates: float,
) -> None:
    """Check the constructor arguments every GAN module of the package has (before any network is built)."""
    check_clip(clip)
    check_choice("adversarial", adversarial, ADVERSARIAL_LOSSES)
    check_choice("d_penalty_points", d_penalty_points, PENALTY_POINTS)
    check_lr_decay(lr_decay, GAN_LR_DECAYS)
    check_mi_weight(mi_weight)
    check_positive("d_penalty", d_penalty, strict=False)
    check_positive("mi_penalty", mi_penalty, strict=False)
    check_unit_interval("mi_ema_decay", mi_ema_decay)
    if not isinstance(d_steps, int) or isinstance(d_steps, bool) or d_steps < 1:
        raise ValueError(f"`d_steps` must be an integer >= 1, got {d_steps!r}")
    for name, lr in learning_rates.items():
        check_positive(name, lr)
