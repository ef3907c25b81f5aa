"""The Airflow plugin: mounts the mediasync API and page at /mediasync and links the page in the
Airflow navigation. Loading it does no database or network work."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from mediasync.airflow_links import ReconciliationReportLink
from mediasync.api.app import create_app


class MediasyncPlugin(AirflowPlugin):
    name = "mediasync"
    # AirflowPlugin declares these as (mutable) class attributes; subclasses override them so.
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": create_app(), "url_prefix": "/mediasync", "name": "mediasync"}]
    external_views: list[Any] = [{  # noqa: RUF012
        "name": "Media Library",
        "href": "/mediasync/",
        "destination": "nav",
        "category": "browse",
        "url_route": "media-library",
    }]
    global_operator_extra_links: list[Any] = [ReconciliationReportLink()]  # noqa: RUF012
