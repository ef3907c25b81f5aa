"""10,000 deletions at 50 ms Cloudinary latency as a user runs them: a SQL `DELETE`, then
`mediasync queue process` in a process of its own, timed from the statement to drained (start-up
included), side by side with Procrastinate and the seed's algorithm (bench_cleanup_vs_peers' set-ups).

The delete brake would hold a 10,000-row statement: this benchmark raises its rules through the
settings (MEDIASYNC_DELETE_HOLD_THRESHOLD / _FRACTION / _WINDOW = 0, published to the database before
the `DELETE` and given to the CLI), as an operator who turned the brake off would. Also reported:
process start to the first Cloudinary call (the emulator's `first_request_at`)."""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _harness import Timer, emulator_process, fresh_database, machine, report
from bench_cleanup_vs_peers import run_procrastinate, run_seed_sample, seed_rows
from mediasync.config import Settings
from mediasync.repository.runtime_settings import RuntimeSettingsRepository

N = int(os.environ.get("BENCH_DELETIONS", "10000"))
LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "50"))
ROUNDS = int(os.environ.get("BENCH_DRAIN_ROUNDS", "3"))  # a loaded machine's noise: the median of these
BRAKE_OFF = {"MEDIASYNC_DELETE_HOLD_THRESHOLD": "0", "MEDIASYNC_DELETE_HOLD_FRACTION": "0",
             "MEDIASYNC_DELETE_HOLD_WINDOW": "0"}


def cli_command() -> list[str]:
    """The installed `mediasync` script next to this interpreter, as a user types it (behind
    BENCH_CLI_PREFIX when set, e.g. `py-spy record -o drain.svg --` to profile it)."""
    prefix = os.environ.get("BENCH_CLI_PREFIX", "").split()
    return [*prefix, *_script()]


def _script() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "mediasync")
    if os.path.exists(script):
        return [script]
    found = shutil.which("mediasync")
    return [found] if found else [sys.executable, "-m", "mediasync.cli"]


def cli_env(db, emu) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDINARY_", "MEDIASYNC_", "SUPABASE_"))}
    env = {**env, **BRAKE_OFF, "MEDIASYNC_DATABASE_URL": db.url, "CLOUDINARY_URL": emu.cloudinary_url}
    if os.environ.get("BENCH_CLI_PYTHONPATH"):  # another checkout's plugins/ for the CLI: a before/after pair
        env["PYTHONPATH"] = os.environ["BENCH_CLI_PYTHONPATH"]
    return env


def run_cli_drain(db, emu, prefix: str = "main-uploads/m") -> dict:
    emu.seed(N, prefix=prefix)
    seed_rows(db, prefix)
    env = cli_env(db, emu)
    settings = Settings.from_env(env)
    with db.transaction() as conn:
        RuntimeSettingsRepository().publish(conn, settings.database_settings())
    emu.control(latency_ms=LATENCY_MS, reset_meter=True)
    with Timer() as total:
        with db.session() as conn, Timer() as delete_time:
            conn.sql("DELETE FROM media_files")
        started_at = time.time()
        done = subprocess.run([*cli_command(), "queue", "process", "--json"], env=env, capture_output=True,
                              text=True, check=False)
    status = emu.settings()
    emu.control(latency_ms=0)
    if done.returncode != 0:
        raise RuntimeError(f"mediasync queue process failed: {done.stderr}")
    result = json.loads(done.stdout)
    assert result["deleted"] == N, result
    first = status["first_request_at"]
    return {"seconds": total.seconds, "delete_statement_seconds": delete_time.seconds,
            "process_seconds": round(total.seconds - delete_time.seconds, 3),
            "start_to_first_cloudinary_call_seconds": round(first - started_at, 3) if first else None,
            "admin_calls": status["admin_calls"], "upload_api_calls": status["upload_api_calls"],
            "brake": "off through the settings (hold threshold, fraction and window 0)"}


def median_round(db, emu) -> dict:
    """ROUNDS drains (each its own rows and assets), the median one reported with all rounds' times."""
    rounds = sorted((run_cli_drain(db, emu, f"main-uploads/m{r}-") for r in range(ROUNDS)), key=lambda r: r["seconds"])
    return {**rounds[len(rounds) // 2], "rounds_seconds": [r["seconds"] for r in rounds],
            "rounds_start_to_first_call_seconds": [r["start_to_first_cloudinary_call_seconds"] for r in rounds]}


def main() -> None:
    with fresh_database() as db, emulator_process() as emu:
        mediasync = median_round(db, emu)
        peers = run_procrastinate(db, emu)
        seed = run_seed_sample(emu)
        report("drain_cli", deletions=N, latency_ms=LATENCY_MS, mediasync_cli=mediasync, procrastinate=peers,
               seed=seed, speedup_vs_procrastinate=round(peers["seconds"] / mediasync["seconds"], 1),
               speedup_vs_seed=round(seed["seconds"] / mediasync["seconds"]), machine=machine())


if __name__ == "__main__":
    main()
