"""Cloudinary's error shape, raised anywhere and rendered once by the app's exception handler."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class CloudinaryError(Exception):
    """`{"error": {"message": ...}}` with an HTTP status, as every Cloudinary API answers errors."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class ControlError(Exception):
    """A refused control-API call: `{"detail": ...}` with a 4xx, never a 500."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def cloudinary_error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status_code=status, headers=headers)


async def handle_cloudinary_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CloudinaryError)
    return cloudinary_error_response(exc.status, exc.message, exc.headers)


async def handle_control_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ControlError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)
