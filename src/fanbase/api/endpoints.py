"""Endpoints built per kind, for routes that several kinds share (tags and lists, orders and events, sizes).

FastAPI reads an endpoint's signature for validation and for the OpenAPI document, so a route built for a kind
(its record, its bodies, its id parameter's name) gets its signature made here, explicitly: the document stays
what a hand-written route gave (the operation id comes from ``name``, the description from ``doc``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any


def build_endpoint(
    name: str,
    *,
    doc: str | None,
    parameters: Mapping[str, Any],
    returns: Any,
    run: Callable[..., Any],
    defaults: Mapping[str, Any] | None = None,
) -> Callable[..., Any]:
    """An endpoint called ``name`` taking ``parameters`` (name → annotation, in order; ``defaults`` for the optional
    ones) by keyword, and answering what ``run`` returns for them."""

    def endpoint(**arguments: Any) -> Any:
        return run(**arguments)

    optional = defaults or {}
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = doc
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                key,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation,
                default=optional.get(key, inspect.Parameter.empty),
            )
            for key, annotation in parameters.items()
        ],
        return_annotation=returns,
    )
    return endpoint
