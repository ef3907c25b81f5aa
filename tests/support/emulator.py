"""Run the emulator in-process on a free port — for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from mediasync.emulator.config import Credentials, Settings
from mediasync.emulator.runtime import Emulator

if TYPE_CHECKING:
    import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningEmulator:
    """`with RunningEmulator(dir) as emu:` — a real HTTP server in a background thread.

    `folder_mode` is "fixed" (the default) or "dynamic"; other keyword arguments are `Settings`
    fields (e.g. `webhook_retry_delays=(0.1, 0.2)`, `allow_remote_fetch=True`, `control_token=...`)."""

    def __init__(self, data_dir: Path, credentials: Credentials | None = None, port: int | None = None,
                 public_url: str | None = None, folder_mode: str = "fixed", **settings: Any) -> None:
        self.data_dir = Path(data_dir)
        self.public_url = public_url
        self.credentials = credentials or Credentials()
        self.port = port or free_port()
        self.settings_template = Settings(folder_mode=folder_mode, public_url=public_url, **settings)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.emulator: Emulator | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cloud_name(self) -> str:
        return self.credentials.cloud_name

    @property
    def api_key(self) -> str:
        return self.credentials.api_key

    @property
    def api_secret(self) -> str:
        return self.credentials.api_secret

    @property
    def folder_mode(self) -> str:
        return self.settings()["folder_mode"] if self._server else self.settings_template.folder_mode

    @property
    def cloudinary_url(self) -> str:
        return f"cloudinary://{self.api_key}:{self.api_secret}@{self.cloud_name}?upload_prefix={self.base_url}"

    def start(self) -> RunningEmulator:
        import uvicorn

        self.emulator = Emulator(self.data_dir, self.credentials, settings=Settings(**vars(self.settings_template)))
        config = uvicorn.Config(self.emulator.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="cloudinary-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the emulator did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._thread is not None:
                self._thread.join(timeout=10)
            if self.emulator is not None:
                self.emulator.close()
            self._server = None

    def __enter__(self) -> RunningEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- control, over HTTP like any client ----------------------------------------------

    def _headers(self) -> dict[str, str]:
        token = self.settings_template.control_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _post(self, path: str, body: dict, timeout: float = 30) -> dict:
        response = httpx.post(f"{self.base_url}{path}", json=body, headers=self._headers(), timeout=timeout)
        response.raise_for_status()
        return response.json()

    def _get(self, path: str) -> dict:
        response = httpx.get(f"{self.base_url}{path}", headers=self._headers(), timeout=10)
        response.raise_for_status()
        return response.json()

    def control(self, **settings: Any) -> dict:
        return self._post("/_emulator/control", settings)

    def settings(self) -> dict:
        return self._get("/_emulator/control")

    def admin_calls(self) -> int:
        return self.settings()["admin_calls"]

    def upload_api_calls(self) -> int:
        return self.settings()["upload_api_calls"]

    def assets(self) -> int:
        """How many assets the emulator holds (all resource types)."""
        return int(self.settings()["assets"])

    def admin_call_log(self) -> list[str]:
        """The counted Admin API calls, oldest first: "DELETE resources/image/upload", ..."""
        return self._get("/_emulator/admin-calls")["calls"]

    def deletions(self) -> dict:
        return self._get("/_emulator/deletions")

    def notifications(self) -> list[dict]:
        """Every notification emitted since the last reset (with delivery attempts)."""
        return self._get("/_emulator/notifications")["notifications"]

    def console(self, action: str, **fields: Any) -> dict:
        """A change "by someone else in the Cloudinary console" (emits the same notifications)."""
        return self._post("/_emulator/console", {"action": action, **fields})

    def reset(self) -> None:
        self._post("/_emulator/reset", {})

    def seed(self, count: int, prefix: str = "main-uploads/seed", resource_type: str = "image",
             age_seconds: int = 0, spread_seconds: int = 0) -> int:
        """Plant `count` assets (no bytes), uploaded `age_seconds` ago (over `spread_seconds` before it)."""
        return self._post("/_emulator/seed", {"count": count, "prefix": prefix, "resource_type": resource_type,
                                              "age_seconds": age_seconds, "spread_seconds": spread_seconds},
                          timeout=600)["seeded"]
