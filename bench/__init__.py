"""Benchmarks that run the bot as a separate process against the test fakes (see bench/README.md)."""
