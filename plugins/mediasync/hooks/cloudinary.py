"""`CloudinaryHook`: the Airflow face of the Cloudinary store (connection type `cloudinary`).

The connection holds the cloud name (the form's "Cloud name", or the URI's host), API key (login),
API secret (password) and an optional API base URL (the local emulator's address); the form is
declared in `mediasync.provider`. The
URI form works too: `cloudinary://KEY:SECRET@CLOUD?api_base_url=http%3A%2F%2F127.0.0.1%3A9444`.
When the connection is not defined the hook falls back to CLOUDINARY_URL / CLOUDINARY_* env vars.
`get_conn()` hands out the typed `CloudinaryClient` — an `AssetStore`, and an `AssetRestorer` for
restores from Cloudinary's backups (`restore`, `restore_by_asset_ids`) — the same code the CLI uses.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.errors import ConfigError, StoreError


class CloudinaryHook(BaseHook):
    conn_name_attr = "cloudinary_conn_id"
    default_conn_name = "cloudinary_default"
    conn_type = "cloudinary"
    hook_name = "Cloudinary"

    def __init__(self, cloudinary_conn_id: str = default_conn_name, *, cloudinary_url: str | None = None,
                 credentials: CloudinaryCredentials | None = None, **client_options: Any) -> None:
        super().__init__()
        self.cloudinary_conn_id = cloudinary_conn_id
        self._explicit = credentials or (CloudinaryCredentials.from_url(cloudinary_url) if cloudinary_url else None)
        self._client_options = client_options

    # --- connection ----------------------------------------------------------------------

    def _credentials(self) -> CloudinaryCredentials:
        """Explicit credentials > the Airflow connection > CLOUDINARY_URL / CLOUDINARY_* env vars."""
        if self._explicit:
            return self._explicit
        conn = self._airflow_connection()
        if conn is None:
            return CloudinaryCredentials.from_env()
        extra = conn.extra_dejson or {}

        def field(name: str) -> str | None:  # the form may store `cloud_name` or `extra__cloudinary__cloud_name`
            return extra.get(name) or extra.get(f"extra__cloudinary__{name}") or None

        cloud_name = field("cloud_name") or conn.host
        if not (cloud_name and conn.login and conn.password):
            raise ConfigError(f"Airflow connection '{self.cloudinary_conn_id}' needs a cloud name, API key and "
                              f"API secret")
        base = field("api_base_url") or field("upload_prefix")
        return CloudinaryCredentials(cloud_name, conn.login, conn.password, base)

    def _airflow_connection(self) -> Any:
        """The Airflow connection, or None when it is not defined (then the env vars apply)."""
        try:
            return self.get_connection(self.cloudinary_conn_id)
        except AirflowNotFoundException:
            return None

    @cached_property
    def client(self) -> CloudinaryClient:
        return CloudinaryClient(self._credentials(), **self._client_options)

    def get_conn(self) -> CloudinaryClient:
        return self.client

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.client.ping()
        except (StoreError, ConfigError) as exc:
            return False, str(exc)
        return True, f"Connected to Cloudinary cloud '{self.client.credentials.cloud_name}'"
