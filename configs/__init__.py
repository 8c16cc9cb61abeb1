"""The shipped configs, one module per experiment (configs layer: what to run, no computation).

``configs/<name>.py`` defines ``get_config(arg="")`` (``arg`` names variants, parsed with
:func:`chaosopt.train.config.parse_variants` against the module's ``VARIANTS``) and returns an
``ml_collections.ConfigDict`` whose ``experiment`` field names the code that runs it,
``experiments/<name>.py`` (the big_vision / flax examples convention). Installed as
``chaosopt.configs``; a user's config file has the same form (``--config my_config.py``).
Configs import only ``chaosopt.train.config`` and each other (``tests/test_layering.py``).
"""
