"""leakwatch: watches public places for leaked staff data, matched against a keyed-hash roster."""

__version__ = "0.1.0"
