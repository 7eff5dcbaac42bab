"""Stand-in for RDT (sdv-dev's Reversible Data Transforms), used ONLY to run the reference CTGAN.

RDT cannot be installed on the development machines (no PyPI, not packaged for Debian), and the
reference CTGAN's data_transformer.py imports one class from it. This package provides just that
class, written here from RDT's documented behaviour (it is not RDT's code). It only has to give
the same encoded layout (same spans and widths); bench/generators_vs_ctgan.py excludes the data
transformer's time from the figure, and the timed training loop is the reference's own code.
"""
