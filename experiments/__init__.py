"""The chapter scripts: one figure (and its numbers as JSON) per script, from the repository root.

Run one as a module, e.g. ``python -m experiments.ch7_filters --help``; outputs go to
``experiments/out/`` unless ``--out`` says otherwise. ``_common`` holds what they share (the
command-line options, the output folder, the book's weights and the MNIST test images). The
Lightning experiments are ``zerotorch experiment`` (``zerotorch/experiments/``).
"""
