"""Settings, read once at start from the environment and an optional YAML file.

Environment variables win over the file. Every part receives the Settings
object it needs; nothing reads the environment later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

MiB = 1024 * 1024
ENV_PREFIX = "IMGPROC_"


class SettingsError(ValueError):
    """A setting has a value we cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".imgproc")
    host: str = "127.0.0.1"
    port: int = 8080
    # A PostgreSQL URL; when unset, the event store and read model live in a
    # SQLite file under data_dir.
    database_url: str | None = None
    max_upload_bytes: int = 20 * MiB
    max_pixels: int = 50_000_000
    processing_attempts: int = 3
    processing_backoff: float = 0.2  # seconds, doubled after each failed attempt
    processing_workers: int = 2
    poll_interval: float = 0.05  # seconds between idle polls of the event log
    log_level: str = "INFO"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "imgproc.sqlite3"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def load_settings(env: Mapping[str, str], config_file: Path | None = None) -> Settings:
    """Settings from a YAML file (if given and present) overridden by IMGPROC_* variables."""
    values: dict[str, Any] = {}
    if config_file is not None and config_file.exists():
        loaded = yaml.safe_load(config_file.read_text()) or {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"{config_file}: expected a mapping of settings")
        values.update({str(k).lower(): v for k, v in loaded.items()})
    for f in fields(Settings):
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = raw
    return _coerce(values)


def _coerce(values: dict[str, Any]) -> Settings:
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise SettingsError(f"unknown setting {unknown[0]!r}")
    coerced: dict[str, Any] = {}
    defaults = Settings()
    for name, raw in values.items():
        default = getattr(defaults, name)
        try:
            if isinstance(default, bool):
                coerced[name] = str(raw).lower() in {"1", "true", "yes", "on"}
            elif isinstance(default, int):
                coerced[name] = int(raw)
            elif isinstance(default, float):
                coerced[name] = float(raw)
            elif isinstance(default, Path):
                coerced[name] = Path(raw)
            else:
                coerced[name] = None if raw in ("", None) else str(raw)
        except ValueError:
            raise SettingsError(f"setting {name!r} has an invalid value {raw!r}") from None
    return Settings(**coerced)
