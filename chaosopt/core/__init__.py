"""Lowest layer: execution helpers every other layer may use (no paper equation).

``chaosopt.core.loop`` is the chunked ``lax.scan`` driver; it imports nothing from chaosopt.
"""
