"""The one place where zerotorch reads Lightning's private internals (names starting with ``_``).

``FaithfulResume`` needs two objects of the fit loop that Lightning offers no public API for: the
combined training loader (to find the generators of the loaders and their samplers) and the
data fetcher (to re-create this epoch's iterator after the RNG states are restored). Both are
read by ``fit_loop_internals`` and nowhere else. A Lightning upgrade that renames them fails in
``tests/test_lit_reliability.py`` with the attribute's name, instead of resuming unfaithfully.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHECKED_ON = "2.6.6"  # the pytorch_lightning version the attributes below were read from
FIT_LOOP_ATTRIBUTES = ("_combined_loader", "_data_fetcher")


class LightningInternalsChanged(RuntimeError):
    """The installed Lightning lacks a private attribute zerotorch relies on."""


@dataclass(frozen=True)
class FitLoopInternals:
    """What ``fit_loop_internals`` read.

    Attributes:
        train_loaders: the training loaders, flattened (``[]`` until the fit loop has set up its
            data).
        data_fetcher: the fetcher the training epoch iterates (``None`` outside ``fit``).
    """

    train_loaders: list[Any]
    data_fetcher: Any | None


def fit_loop_internals(trainer: Any) -> FitLoopInternals:
    """The fit loop's training loaders and data fetcher.

    Checked on pytorch_lightning 2.6.6: ``trainer.fit_loop._combined_loader`` (a
    ``CombinedLoader`` whose ``flattened`` lists the loaders, or ``None`` until the fit loop set
    up its data) and ``trainer.fit_loop._data_fetcher`` (``None`` outside ``fit``).

    Raises:
        LightningInternalsChanged: an attribute is missing (another Lightning version).
    """
    loop = trainer.fit_loop
    missing = [name for name in FIT_LOOP_ATTRIBUTES if not hasattr(loop, name)]
    if missing:
        import pytorch_lightning

        raise LightningInternalsChanged(
            f"pytorch_lightning {pytorch_lightning.__version__}: the fit loop has no "
            f"{', '.join(missing)} (zerotorch reads them for a faithful resume; checked on "
            f"{CHECKED_ON}): update zerotorch/_lightning_private.py"
        )
    combined = loop._combined_loader
    return FitLoopInternals(
        train_loaders=list(combined.flattened) if combined is not None else [],
        data_fetcher=loop._data_fetcher,
    )
