"""The gan-diagnose dashboard: ``create_app(runs_root)`` builds a Dash app over run directories.

Nothing is imported from dash or read from disk at import time; the app reads runs only through
``diagnose.runs`` (plus a columnar cache for metrics.jsonl, see :mod:`dashboards.columns`).
"""
from __future__ import annotations


def create_app(runs_root, *, refresh_ms: int = 2000, evaluate: bool = True):
    """Build the Dash app for the runs under ``runs_root``; see :func:`dashboards.app.create_app`."""
    from dashboards.app import create_app as _create

    return _create(runs_root, refresh_ms=refresh_ms, evaluate=evaluate)


__all__ = ["create_app"]
