"""Integrations with training frameworks. Each module imports its framework when it is itself
imported, never when ``diagnose`` is: ``from diagnose.integrations.lightning import
DiagnoseCallback`` needs Lightning installed, ``import diagnose`` does not."""
