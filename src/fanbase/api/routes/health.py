from __future__ import annotations

from fastapi import APIRouter

from fanbase.api.deps import DatabaseDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(database: DatabaseDep) -> dict[str, str]:
    """Liveness and database reachability; needs no key."""
    database.ping()
    return {"status": "ok", "database": database.dialect}
