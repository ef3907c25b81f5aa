"""/api/v1/events: Server-Sent Events for media INSERT/UPDATE/DELETE and held deletion batches,
fed by LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from mediasync.api.deps import LiveDep
from mediasync.api.security import requires_read
from mediasync.services.live import LiveStatus, MediaChangeBroadcaster

router = APIRouter(tags=["live updates"], dependencies=[requires_read])
HEARTBEAT_SECONDS = 15.0


@router.get("/events", summary="Server-Sent Events: media INSERT/UPDATE/DELETE", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`event: media` per change; `event: deletion` when a deletion "
                                            "batch is held"}})
async def events(request: Request, live: LiveDep) -> StreamingResponse:
    await live.ensure_session()  # through a transaction pooler: 503 naming the fix, not a silent stream
    return StreamingResponse(_sse(request, live), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/events/status", summary="Live updates: whether the LISTEN is in place and how many streams are open")
async def events_status(live: LiveDep) -> LiveStatus:
    """Counts this API-server process's streams: a stream leaves the count once the server has seen
    its client go away."""
    return live.status()


async def _sse(request: Request, live: MediaChangeBroadcaster) -> AsyncIterator[bytes]:
    """`event: media` per change; a comment line as heartbeat so proxies keep the stream open.
    ": connected" is sent once the database LISTEN is in place, so a client that saw it misses
    nothing written afterwards. A client going away ends the stream quietly."""
    yield b"retry: 2000\n"
    stream = live.subscribe()
    pending = asyncio.ensure_future(stream.__anext__())
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(live.connected.wait(), timeout=HEARTBEAT_SECONDS)
        yield b": connected\n\n"
        while not await request.is_disconnected():
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_SECONDS)
            if not done:
                yield b": heartbeat\n\n"
                continue
            kind, event = pending.result()
            pending = asyncio.ensure_future(stream.__anext__())
            yield f"event: {kind}\ndata: {json.dumps(event)}\n\n".encode()
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending  # the generator must be idle before it can be closed
        await stream.aclose()
