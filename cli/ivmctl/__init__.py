"""ivmctl: the command-line client of ivmweb's REST API (HTTP only)."""

__version__ = "0.1.0"
