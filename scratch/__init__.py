"""The book's NumPy implementation (Deep Learning from Scratch), written anew.

Modules follow the book's ``common/`` folder: ``functions``, ``gradient``, ``layers``,
``optimizer``, ``util``, ``networks``, ``trainer``, plus ``dataset`` (``load_mnist``) and
``io`` (safe weight loading). Only NumPy is required.
"""

__all__ = ["functions", "gradient", "layers", "optimizer", "util", "networks", "trainer"]
