"""The benchmark suite (`make bench`, i.e. `python -m bench`): never part of the test run. See bench/suite.py."""
