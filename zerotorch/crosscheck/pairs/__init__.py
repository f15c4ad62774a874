"""Registry entries, one module per book chapter group (importing them registers the pairs)."""

from zerotorch.crosscheck.pairs import ch3, ch4, ch5, ch6, ch7  # noqa: F401
