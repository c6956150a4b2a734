"""HTTP views on each worker's Faust web server.

Why routed: a user's state lives on the worker that owns the user's partition. Any
worker answers ``GET /users/{user_id}/profile``; Faust's table routing forwards the
request to the owner (its ``canonical_url``), so clients need not know the layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

if TYPE_CHECKING:
    from agents.pipeline import Pipeline


def install_views(app: faust.App, pipeline: Pipeline) -> None:
    """Register the worker's HTTP endpoints."""

    @app.page("/stats")
    async def stats(view: Any, request: faust.web.Request) -> faust.web.Response:
        """Per-type processed totals over the users held here (tests, the demo)."""
        return view.json({"processed": pipeline.processed_counts(),
                          "users": len(pipeline.users)})

    @app.page("/users/{user_id}/profile")
    @app.table_route(table=pipeline.users, match_info="user_id")
    async def user_profile(view: Any, request: faust.web.Request,
                           user_id: str) -> faust.web.Response:
        """The user's profile snapshot, as on ``user-profiles``; 404 if unknown."""
        snap = pipeline.profile_snapshot(user_id)
        if snap is None:
            return view.json({"error": "unknown user", "user_id": user_id}, status=404)
        return view.json(snap)

    @app.page("/users/{user_id}/recommendations")
    @app.table_route(table=pipeline.users, match_info="user_id")
    async def user_recommendations(view: Any, request: faust.web.Request,
                                   user_id: str) -> faust.web.Response:
        """The user's current recommendation features (as on the topic); 404 if unknown."""
        msg = pipeline.recommender.message_for(user_id)
        if msg is None:
            return view.json({"error": "unknown user", "user_id": user_id}, status=404)
        return view.json(msg)
