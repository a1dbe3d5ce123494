"""The watcher's stages: collect (sources -> documents), match (documents -> findings).

Each stage reads one table upstream and writes one downstream, in one transaction; the
alerts stage (leakwatch.alerts) reads findings. `leakwatch.daemon` runs them together.
"""
