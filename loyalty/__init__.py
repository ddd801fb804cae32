"""Loyalty analytics warehouse: command line, synthetic data, build and publish orchestration."""
