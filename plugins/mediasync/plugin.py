"""The Airflow plugin: mounts the mediasync API and page at /mediasync and links the page in the
Airflow navigation. Loading it does no database or network work."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mediasync.api.app import create_app


class MediasyncPlugin(AirflowPlugin):
    name = "mediasync"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/mediasync", "name": "mediasync"}]
    external_views = [{
        "name": "Media Library",
        "href": "/mediasync/",
        "destination": "nav",
        "category": "browse",
        "url_route": "media-library",
    }]
