"""`make run`'s settings file: found, parsed, and never overriding what the environment configures."""

from __future__ import annotations

from mediasync import settings_file


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_found_in_the_current_directory_or_a_parent(tmp_path):
    found = write(tmp_path / ".mediasync" / "mediasync.env", "A=1\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert settings_file.find({}, cwd=tmp_path / "a" / "b") == found
    write(tmp_path / "a" / ".mediasync" / "mediasync.env", "A=2\n")  # the nearest one wins
    assert settings_file.find({}, cwd=tmp_path / "a" / "b") == tmp_path / "a" / ".mediasync" / "mediasync.env"


def test_mediasync_home_and_an_explicit_file_win_and_empty_means_none(tmp_path):
    write(tmp_path / ".mediasync" / "mediasync.env", "A=1\n")
    home = write(tmp_path / "state" / "mediasync.env", "A=2\n")
    other = write(tmp_path / "other.env", "A=3\n")
    assert settings_file.find({"MEDIASYNC_HOME": str(tmp_path / "state")}, cwd=tmp_path) == home
    assert settings_file.find({"MEDIASYNC_SETTINGS_FILE": str(other), "MEDIASYNC_HOME": "x"}, cwd=tmp_path) == other
    assert settings_file.find({"MEDIASYNC_SETTINGS_FILE": ""}, cwd=tmp_path) is None


def test_written_file_round_trips_and_is_private(tmp_path):
    values = {"MEDIASYNC_DATABASE_URL": "postgresql://postgres@/mediasync?host=/tmp/a b&port=5432",
              "CLOUDINARY_URL": "cloudinary://k:s$ecret@demo?upload_prefix=http://127.0.0.1:9444"}
    path = tmp_path / "s" / "mediasync.env"
    settings_file.write(path, values, header="made by a test\nsecond line")
    assert settings_file.parse(path.read_text()) == values
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_environment_wins_group_by_group():
    values = {"MEDIASYNC_DATABASE_URL": "postgresql://file", "CLOUDINARY_URL": "cloudinary://file",
              "MEDIASYNC_REPORT_DIR": "/file/reports"}
    env = {"SUPABASE_DB_URL": "postgresql://env", "MEDIASYNC_REPORT_DIR": "/env/reports"}
    taken = settings_file.apply(values, env)
    assert taken == ["CLOUDINARY_URL"]
    assert "MEDIASYNC_DATABASE_URL" not in env and env["MEDIASYNC_REPORT_DIR"] == "/env/reports"

    env = {"CLOUDINARY_CLOUD_NAME": "real"}
    settings_file.apply(values, env)
    assert "CLOUDINARY_URL" not in env and env["MEDIASYNC_DATABASE_URL"] == "postgresql://file"


def test_load_applies_the_file_found(tmp_path):
    write(tmp_path / "state" / "mediasync.env", "# comment\nexport MEDIASYNC_DATABASE_URL='postgresql://x'\n")
    env = {"MEDIASYNC_HOME": str(tmp_path / "state")}
    assert settings_file.load(env) == tmp_path / "state" / "mediasync.env"
    assert env["MEDIASYNC_DATABASE_URL"] == "postgresql://x"
