"""Run the emulator in-process on a free port — for tests, benchmarks and `mediasync verify` demos."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx

from mediasync.emulator.server import Credentials, Emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningEmulator:
    """`with RunningEmulator(dir) as emu:` — a real HTTP server in a background thread."""

    def __init__(self, data_dir: Path, credentials: Credentials | None = None, port: int | None = None,
                 public_url: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.public_url = public_url
        self.credentials = credentials or Credentials()
        self.port = port or free_port()
        self._server = None
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
    def cloudinary_url(self) -> str:
        return f"cloudinary://{self.api_key}:{self.api_secret}@{self.cloud_name}?upload_prefix={self.base_url}"

    def start(self) -> RunningEmulator:
        import uvicorn

        self.emulator = Emulator(self.data_dir, self.credentials, public_url=self.public_url)
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
            self._thread.join(timeout=10)
            self.emulator.state.close()
            self._server = None

    def __enter__(self) -> RunningEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- control, over HTTP like any client ----------------------------------------------

    def control(self, **settings) -> dict:
        return httpx.post(f"{self.base_url}/_emulator/control", json=settings, timeout=10).json()

    def settings(self) -> dict:
        return httpx.get(f"{self.base_url}/_emulator/control", timeout=10).json()

    def admin_calls(self) -> int:
        return self.settings()["admin_calls"]

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/_emulator/reset", timeout=30).raise_for_status()

    def seed(self, count: int, prefix: str = "main-uploads/seed", resource_type: str = "image") -> int:
        response = httpx.post(f"{self.base_url}/_emulator/seed", timeout=300,
                              json={"count": count, "prefix": prefix, "resource_type": resource_type})
        response.raise_for_status()
        return response.json()["seeded"]
