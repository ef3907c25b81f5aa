"""Delivery URLs built from the *current* Cloudinary configuration, never from the `secure_url`
stored when the asset was uploaded: a moved emulator, a new CDN host or a changed cloud name must
not break every thumbnail already recorded.

Nothing stored in a row chooses where the plugin connects: the host is the configuration's
(`delivery_origin`), the public_id is a checked path (`public_ids`) whose every segment is
percent-encoded, and resource type, delivery type and format must be plain names.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from mediasync.clients.cloudinary import CloudinaryCredentials
from mediasync.errors import InvalidInput
from mediasync.public_ids import checked_public_id, encoded_path

CLOUDINARY_DELIVERY_ORIGIN = "https://res.cloudinary.com"
_NAME = re.compile(r"[a-z][a-z_]{0,31}")  # resource types (image, video, raw) and delivery types (upload, ...)
_FORMAT = re.compile(r"[A-Za-z0-9]{1,16}")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def delivery_origin(credentials: CloudinaryCredentials) -> str:
    """The one host delivery URLs of this configuration name (scheme://host[:port])."""
    return origin_of(credentials.api_base_url) if credentials.api_base_url else CLOUDINARY_DELIVERY_ORIGIN


def delivery_url(credentials: CloudinaryCredentials, *, public_id: str, resource_type: str, type: str,
                 version: int | None, format: str | None) -> str:
    """Where the asset's bytes are delivered today. Against the emulator (or any API base URL)
    delivery is served by that base; against Cloudinary it is the SDK's own URL building (which
    escapes each segment too). Raises `InvalidInput` for a public_id, type or format that is not
    a safe name."""
    checked_public_id(public_id)
    if not _NAME.fullmatch(resource_type) or not _NAME.fullmatch(type):
        raise InvalidInput("resource type and delivery type must be plain names", 422)
    if format and not _FORMAT.fullmatch(format):
        raise InvalidInput("format must be a plain file extension", 422)
    suffix_format = format if format and resource_type != "raw" else None
    if credentials.api_base_url:
        version_part = f"v{int(version)}/" if version else ""
        suffix = f".{suffix_format}" if suffix_format else ""
        return (f"{credentials.api_base_url.rstrip('/')}/{quote(credentials.cloud_name, safe='')}/{resource_type}/"
                f"{type}/{version_part}{encoded_path(public_id)}{suffix}")
    import cloudinary.utils

    url, _ = cloudinary.utils.cloudinary_url(public_id, resource_type=resource_type, type=type, version=version,
                                             format=suffix_format, secure=True, cloud_name=credentials.cloud_name)
    return str(url)
