"""Connectors pull inquiries from providers into core.ingest. Importing this package registers them all."""

from connectors.base import Connector, get, register, registered  # noqa: F401


def load_all() -> None:
    """Import every connector module so that its class registers itself."""
    import importlib
    import pkgutil

    import connectors

    for module in pkgutil.iter_modules(connectors.__path__):
        if module.ispkg:
            importlib.import_module(f"connectors.{module.name}")
