"""Compatibility names: the emulator now lives in rooms (app, runtime, config, signing, routers);
older imports of `mediasync.emulator.server` keep working."""

from mediasync.emulator.app import build_app, serve
from mediasync.emulator.config import Credentials, Faults, Settings, credentials_from_env
from mediasync.emulator.gate import AdminMeter
from mediasync.emulator.runtime import Emulator
from mediasync.emulator.signing import signature_matches, string_to_sign

__all__ = ["AdminMeter", "Credentials", "Emulator", "Faults", "Settings", "build_app", "credentials_from_env",
           "serve", "signature_matches", "string_to_sign"]
