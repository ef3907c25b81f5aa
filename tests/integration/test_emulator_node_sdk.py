"""The emulator through the official Node.js SDK (cloudinary 2.x), what its own integration tests
expect: `upload_chunked_stream` (parts without a total until the last), the 5 MB part rule, resource
types, resources by tag, an unsupported call's JSON error, usage's keys, typed preset settings and a
delete by prefix. Runs where `node` and the package are installed: point MEDIASYNC_TEST_NODE_MODULES
at a `node_modules` holding `cloudinary` (`npm install cloudinary` in any directory); skipped otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "node" / "conformance.js"
NODE_MODULES = os.environ.get("MEDIASYNC_TEST_NODE_MODULES", "")
pytestmark = pytest.mark.skipif(not (shutil.which("node") and (Path(NODE_MODULES) / "cloudinary").is_dir()),
                                reason="needs node and MEDIASYNC_TEST_NODE_MODULES with the cloudinary package")


def test_the_node_sdk_gets_cloudinarys_answers(emulator):
    run = subprocess.run(["node", str(SCRIPT)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "NODE_PATH": NODE_MODULES, "CLOUDINARY_URL": emulator.cloudinary_url})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["chunked"]["bytes"] == 13 * 1024 * 1024 and out["chunked"]["etag"] == out["chunked"]["md5"]
    assert out["chunked"]["resource_type"] == "raw"
    assert out["small_parts"] == {"message": "All parts except EOF-chunk must be larger than 5mb", "http_code": 400}
    assert out["resource_types"] == ["raw"] and out["by_tag"] == [out["chunked"]["public_id"]]
    assert out["unknown"]["http_code"] == 404 and out["unknown"]["message"].startswith("Unsupported API call")
    assert out["usage_keys"] == sorted(["plan", "last_updated", "transformations", "objects", "bandwidth", "storage",
                                        "requests", "resources", "derived_resources", "media_limits"])
    assert out["preset_settings"] == {"use_asset_folder_as_public_id_prefix": True}
    assert out["deleted_by_prefix"]["deleted"] == {out["chunked"]["public_id"]: "deleted"}
    assert emulator.settings()["assets"] == 0
