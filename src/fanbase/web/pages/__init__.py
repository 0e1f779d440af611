"""The dashboard's pages; importing this package registers them with NiceGUI (``@ui.page``)."""

from __future__ import annotations

import importlib

PAGE_MODULES = ("login", "segments", "fans", "tags", "lists", "analytics", "outbox", "messages", "imports", "audit")


def register() -> None:
    """Import every page module once; ``@ui.page`` registers the routes on import."""
    for name in PAGE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
