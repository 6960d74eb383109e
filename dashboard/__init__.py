"""ORCA Ops Console: operations dashboard for ORCA Core."""

__version__ = "0.1.0"
