"""Provider metadata for Airflow (entry point `apache_airflow_provider`): registers the
`cloudinary` connection type with its form, declared here as Airflow 3.2+ expects (no wtforms)."""

from __future__ import annotations

from mediasync import __version__

CLOUDINARY_CONNECTION = {
    "hook-class-name": "mediasync.hooks.cloudinary.CloudinaryHook",
    "connection-type": "cloudinary",
    "hook-name": "Cloudinary",
    "conn-fields": {
        "cloud_name": {
            "label": "Cloud name",
            "description": "Your Cloudinary cloud name (Dashboard → Product environment).",
            "schema": {"type": ["string", "null"]},
        },
        "api_base_url": {
            "label": "API base URL",
            "description": "Optional. Leave empty for https://api.cloudinary.com; set the emulator's address "
                           "(e.g. http://127.0.0.1:9444) to use the local Cloudinary emulator.",
            "schema": {"type": ["string", "null"]},
        },
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "host"],
        "relabeling": {"login": "API Key", "password": "API Secret"},
        "placeholders": {"login": "123456789012345", "cloud_name": "my-cloud",
                         "api_base_url": "https://api.cloudinary.com"},
    },
}


def get_provider_info() -> dict:
    return {
        "package-name": "mediasync",
        "name": "mediasync",
        "description": "Keeps media_files, Cloudinary and the media library in sync.",
        "versions": [__version__],
        "connection-types": [CLOUDINARY_CONNECTION],
    }
