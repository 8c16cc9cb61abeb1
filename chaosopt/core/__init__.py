"""Lowest layer: execution helpers every other layer may use (no paper equation).

``chaosopt.core.loop`` is the chunked ``lax.scan`` driver and ``chaosopt.core.precision`` the
float64 switch (``x64_scope``); they import nothing from chaosopt.
"""
