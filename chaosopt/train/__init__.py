"""Execution layer: jitted chunked scans, seed/hyper-parameter vmapping, outputs, CLI."""
