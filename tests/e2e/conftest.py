"""Fixtures of the end-to-end tier beyond the shared ones: `deployment` (replicas on PostgreSQL)."""

from tests.e2e.replicas import deployment

__all__ = ["deployment"]
