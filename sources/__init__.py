"""Sources: one module per site, registered in the `leakwatch.sources` entry point group."""
