"""One module per capability; each exposes ``router``."""

from __future__ import annotations

from fastapi import APIRouter

from fanbase.api.routes import fans, health

ROUTERS: list[APIRouter] = [health.router, fans.router]
