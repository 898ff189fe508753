"""thecal: an open implementation of an implanted intrathecal drug delivery system."""

__version__ = "0.1.0"
