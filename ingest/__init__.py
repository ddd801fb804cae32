"""Ingest: landing folder → DuckDB raw layer. `load_landing` is the one entry point (CLI, `loyalty run`, bench)."""

from ingest.load import IngestReport, SourceStats, load_landing

__all__ = ["IngestReport", "SourceStats", "load_landing"]
