"""The book's NumPy implementation (Deep Learning from Scratch), written anew.

Modules follow the book's ``common/`` folder: ``functions``, ``gradient``, ``layers``,
``optimizer``, ``util``, ``networks`` (one module per network family, all on
``book_network.BookNetwork``), ``trainer``, plus ``dataset`` (``load_mnist``), ``io`` (safe weight
loading), ``book_weights`` (the published files) and ``masks`` (the one source of dropout masks
for comparisons). Only NumPy is required.
"""

__all__ = ["functions", "gradient", "layers", "optimizer", "util", "networks", "trainer"]
