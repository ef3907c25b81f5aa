"""Delivery URLs built from the *current* Cloudinary configuration, never from the `secure_url`
stored when the asset was uploaded: a moved emulator, a new CDN host or a changed cloud name must
not break every thumbnail already recorded."""

from __future__ import annotations

from mediasync.clients.cloudinary import CloudinaryCredentials


def delivery_url(credentials: CloudinaryCredentials, *, public_id: str, resource_type: str, type: str,
                 version: int | None, format: str | None) -> str:
    """Where the asset's bytes are delivered today. Against the emulator (or any API base URL)
    delivery is served by that base; against Cloudinary it is the SDK's own URL building."""
    if credentials.api_base_url:
        version_part = f"v{version}/" if version else ""
        suffix = f".{format}" if format and resource_type != "raw" else ""
        return (f"{credentials.api_base_url.rstrip('/')}/{credentials.cloud_name}/{resource_type}/{type}/"
                f"{version_part}{public_id}{suffix}")
    import cloudinary.utils

    url, _ = cloudinary.utils.cloudinary_url(public_id, resource_type=resource_type, type=type, version=version,
                                             format=format if resource_type != "raw" else None, secure=True,
                                             cloud_name=credentials.cloud_name)
    return str(url)
