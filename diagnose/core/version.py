"""The version of gan-diagnose (recorded in config.json, printed by ``diagnose --version``)."""

VERSION = "0.1.0"
