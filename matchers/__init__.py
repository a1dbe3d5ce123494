"""Matchers: one module each, registered in the `leakwatch.matchers` entry point group."""
