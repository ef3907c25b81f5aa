"""`CloudinaryHook`: the Airflow face of the Cloudinary store (connection type `cloudinary`).

The connection holds the cloud name (the form's "Cloud name", or the URI's host), API key (login),
API secret (password) and an optional API base URL (the local emulator's address); the form is
declared in `mediasync.provider`. The
URI form works too: `cloudinary://KEY:SECRET@CLOUD?api_base_url=http%3A%2F%2F127.0.0.1%3A9444`.
Without an Airflow connection the hook falls back to CLOUDINARY_URL / CLOUDINARY_* env vars. All
store calls delegate to `CloudinaryClient`, the same code path the CLI uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any, BinaryIO

try:
    from airflow.sdk import BaseHook
except ImportError:  # pragma: no cover - Airflow 2 layout
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

from mediasync.clients.cloudinary import CloudinaryClient, CloudinaryCredentials
from mediasync.errors import ConfigError, StoreError
from mediasync.store import DeleteOutcome, ListedAsset, ListingPage, UploadedAsset


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

    def _airflow_connection(self):
        try:
            return self.get_connection(self.cloudinary_conn_id)
        except Exception:  # noqa: BLE001 - "not defined" differs across Airflow versions and contexts
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

    # --- AssetStore, delegated -----------------------------------------------------------

    def upload(self, file: BinaryIO | bytes, **kwargs: Any) -> UploadedAsset:
        return self.client.upload(file, **kwargs)

    def destroy(self, public_id: str, resource_type: str = "image", type: str = "upload") -> DeleteOutcome:
        return self.client.destroy(public_id, resource_type, type)

    def delete_many(self, public_ids: Sequence[str], resource_type: str = "image",
                    type: str = "upload") -> dict[str, DeleteOutcome]:
        return self.client.delete_many(public_ids, resource_type, type)

    def iter_pages(self, resource_type: str = "image", type: str = "upload", prefix: str | None = None,
                   cursor: str | None = None) -> Iterator[ListingPage]:
        return self.client.iter_pages(resource_type, type, prefix, cursor)

    def iter_resources(self, resource_type: str = "image", type: str = "upload", prefix: str | None = None,
                       cursor: str | None = None) -> Iterator[ListedAsset]:
        return self.client.iter_resources(resource_type, type, prefix, cursor)
