"""Where dropout masks come from when two implementations must drop the same units.

A Dropout layer keeps unit i where ``u_i > dropout_ratio``, ``u`` uniform in [0, 1). A
``MaskStream`` is the one source of those uniforms for comparisons, on both sides: a scratch
``Dropout`` takes it as its ``rng`` and a zerotorch ``Dropout`` as its ``generator`` (networks:
``net.use_masks(stream)``). It comes in three kinds:

- ``MaskStream(seed)``: a seeded stream; two streams of one seed give two networks the same
  masks, call for call. It is NumPy's legacy ``RandomState`` stream, the one ``np.random.rand``
  draws from, so ``with stream.as_global():`` makes the book's own code (which draws from the
  global ``np.random``) draw exactly these uniforms;
- ``MaskStream(seed, fixed=True)``: every pass draws the same uniforms again (per shape for a
  layer's ``rng``; from the seed again at each ``as_global``), so a loss and its gradient, or
  every central difference, see one mask;
- ``MaskStream.replay(masks)``: the recorded keep-masks of another network (one per Dropout
  layer, in order), replayed once each: how the torch twin drops what a scratch run dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class MaskStream:
    """A source of dropout uniforms (``random(shape)``, as a NumPy generator has); see above."""

    def __init__(self, seed: int = 0, *, fixed: bool = False):
        self.fixed = fixed
        self._state = np.random.RandomState(seed)
        self._start = self._state.get_state()  # where a fixed stream's global draws begin
        self._fixed: dict[tuple[int, ...], np.ndarray] = {}
        self._replay: list[np.ndarray] | None = None

    @classmethod
    def replay(cls, masks) -> MaskStream:
        """A stream giving back these keep-masks (NumPy arrays or tensors), in order, once."""
        stream = cls()
        stream._replay = [np.asarray(m).astype(bool) for m in masks]
        return stream

    def random(self, shape) -> np.ndarray:
        """Uniforms of ``shape`` in [0, 1); a replayed mask gives 1.0 where kept, 0.0 where
        dropped (kept exactly, for any ratio in [0, 1))."""
        shape = tuple(int(n) for n in shape)
        if self._replay is not None:
            if not self._replay:
                raise ValueError("MaskStream.replay: every recorded mask has been used; replay "
                                 "the masks of the next pass with a new MaskStream.replay(...)")
            mask = self._replay.pop(0)
            if mask.shape != shape:
                raise ValueError(f"Dropout: mask has shape {mask.shape}, input has {shape}")
            return mask.astype(np.float64)
        if not self.fixed:
            return self._state.random_sample(shape)
        if shape not in self._fixed:
            self._fixed[shape] = self._state.random_sample(shape)
        return self._fixed[shape]

    @contextmanager
    def as_global(self) -> Iterator[MaskStream]:
        """Inside: the global ``np.random`` draws this stream (the book's ``np.random.rand``).

        A plain stream continues where the code inside left it; a fixed one starts from the same
        state at every entry. The global state is restored on leaving.
        """
        saved = np.random.get_state()  # noqa: NPY002 (the book's global RNG, on purpose)
        start = self._start if self.fixed else self._state.get_state()
        np.random.set_state(start)  # noqa: NPY002
        try:
            yield self
        finally:
            if not self.fixed:
                self._state.set_state(np.random.get_state())  # noqa: NPY002
            np.random.set_state(saved)  # noqa: NPY002
