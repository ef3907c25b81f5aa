"""Provider metadata for Airflow (entry point `apache_airflow_provider`): registers the
`cloudinary` connection type so the Connections UI offers it with its own form."""

from __future__ import annotations

from mediasync import __version__


def get_provider_info() -> dict:
    return {
        "package-name": "mediasync",
        "name": "mediasync",
        "description": "Keeps media_files, Cloudinary and the media library in sync.",
        "versions": [__version__],
        "connection-types": [
            {"hook-class-name": "mediasync.hooks.cloudinary.CloudinaryHook", "connection-type": "cloudinary"},
        ],
    }
