"""Dashboard panels: each owns a ``layout()`` and ``set_callbacks(app)``, ids namespaced by prefix."""
from dashboards.panels.browser import RunBrowser
from dashboards.panels.compare import ComparePage
from dashboards.panels.run_page import RunPage

__all__ = ["RunBrowser", "ComparePage", "RunPage"]
