"""Settings, read once at start from the environment and an optional YAML file.

Environment variables win over the file. Every part receives the Settings
object it needs; nothing reads the environment later.

Each setting has an `IMGPROC_*` variable (`IMGPROC_KAFKA_TOPIC`) and a
lower-case key in the file (`kafka_topic`). The names the deployment scripts
already use (`DB_HOST`, `KAFKA_BROKERS`, `MINIO_HOST`, …, see SEED_NAMES) are
accepted as well, in either place; setting them switches from the embedded
default to PostgreSQL, Kafka and S3.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

MiB = 1024 * 1024
MAX_PORT = 65535
ENV_PREFIX = "IMGPROC_"
REDACTED = "***"


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
    processing_workers: int = 2
    processing_time_limit: float = 30.0  # seconds one image may take
    max_output_dimension: int = 16384  # pixels a side of any result
    poll_interval: float = 0.05  # seconds between idle polls of the event log
    log_level: str = "INFO"
    # Worker processes serve their Prometheus metrics on this port (on `host`); unset, none.
    metrics_port: int | None = None
    # Kafka: when unset, consumers follow the event store's notification log.
    kafka_brokers: str | None = None
    kafka_topic: str = "image-events"
    kafka_dead_letter_topic: str | None = None  # default: "<kafka_topic>.dead-letter"
    kafka_group_id: str = "imgproc"  # prefix: each role joins "<kafka_group_id>-<role>"
    kafka_partitions: int = 6  # when the topic has to be created
    kafka_idempotent: bool = True  # idempotent producer (brokers without it need false)
    kafka_batch_size: int = 256  # events per published or consumed batch
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 3_000
    kafka_rebalance_timeout_ms: int = 10_000
    # S3: when neither bucket nor endpoint is set, blobs live under data_dir.
    s3_endpoint_url: str | None = None  # unset: AWS itself
    s3_bucket: str | None = None  # default "images" once S3 is in use
    s3_access_key: str | None = None  # unset: the AWS credential chain
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_create_bucket: bool = True

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "imgproc.sqlite3"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def uses_kafka(self) -> bool:
        return self.kafka_brokers is not None

    @property
    def uses_s3(self) -> bool:
        return self.s3_bucket is not None or self.s3_endpoint_url is not None

    @property
    def bucket(self) -> str:
        return self.s3_bucket or "images"

    @property
    def dead_letter_topic(self) -> str:
        return self.kafka_dead_letter_topic or f"{self.kafka_topic}.dead-letter"

    def group_id(self, role: str) -> str:
        """The consumer group of one role: roles never share a group."""
        return f"{self.kafka_group_id}-{role}"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def redacted(self) -> dict[str, Any]:
        """Every setting, fit for a log: passwords and secret keys masked."""
        values = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        if self.s3_secret_key is not None:
            values["s3_secret_key"] = REDACTED
        if self.database_url is not None:
            values["database_url"] = _without_password(self.database_url)
        return values


def load_settings(env: Mapping[str, str], config_file: Path | None = None) -> Settings:
    """Settings from a YAML file (if given and present) overridden by the environment.

    Within one source, a setting named outright (`database_url`) wins over the
    one its seed names build (`db_host`, …).
    """
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = _read_file(config_file)
    file_seed = {k: v for k, v in file_values.items() if k.upper() in SEED_NAMES}
    file_own = {k: v for k, v in file_values.items() if k not in file_seed}
    env_seed = {name.lower(): env[name] for name in SEED_NAMES if name in env}
    env_own = {f.name: env[_var(f.name)] for f in fields(Settings) if _var(f.name) in env}
    # A seed part from the environment completes the file's parts (DB_PASSWORD alone).
    from_env_seed = {_SEED_FIELDS[name.upper()] for name in env_seed}
    merged = _from_seed_names(file_seed | env_seed)
    values = _from_seed_names(file_seed) | file_own
    values |= {k: v for k, v in merged.items() if k in from_env_seed}
    values |= env_own
    return _coerce(values)


def _read_file(config_file: Path) -> dict[str, Any]:
    """The file's settings with lower-case keys; none when there is no file."""
    try:
        if not config_file.exists():
            return {}
        loaded = yaml.safe_load(config_file.read_text()) or {}
    except OSError as e:
        raise SettingsError(f"{config_file}: cannot be read: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise SettingsError(f"{config_file}: not valid YAML: {_yaml_problem(e)}") from None
    if not isinstance(loaded, dict):
        raise SettingsError(f"{config_file}: expected a mapping of settings")
    return {str(k).lower(): v for k, v in loaded.items()}


def _yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong and where, in one line (PyYAML's message spans several)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())


def _var(name: str) -> str:
    return ENV_PREFIX + name.upper()


# Seed name → setting, for the names that map one to one.
_RENAMED = {
    "KAFKA_BROKERS": "kafka_brokers",
    "KAFKA_TOPIC": "kafka_topic",
    "KAFKA_GROUP_ID": "kafka_group_id",
    "MINIO_ROOT_USER": "s3_access_key",
    "MINIO_ROOT_PASSWORD": "s3_secret_key",
    "S3_BUCKET_NAME": "s3_bucket",
    "S3_LOCATION": "s3_region",
    "SERVER_PORT": "port",
}
# Seed names that together build one setting: DB_* the database URL, MINIO_* the S3 endpoint.
_DATABASE_PARTS = ("DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME", "DB_SSL_MODE")
_MINIO_PARTS = ("MINIO_HOST", "MINIO_PORT", "MINIO_SSL")
_SEED_FIELDS = (
    _RENAMED
    | dict.fromkeys(_DATABASE_PARTS, "database_url")
    | dict.fromkeys(_MINIO_PARTS, "s3_endpoint_url")
)
SEED_NAMES = frozenset(_SEED_FIELDS)


def _from_seed_names(seed: dict[str, Any]) -> dict[str, Any]:
    """Settings from seed names (keys in lower case). DB_HOST switches to PostgreSQL and
    MINIO_HOST to S3; the other parts only fill in their URL."""
    try:
        values = {_RENAMED[k.upper()]: v for k, v in seed.items() if k.upper() in _RENAMED}
        if seed.get("db_host"):
            values["database_url"] = _database_url(seed)
        if seed.get("minio_host"):
            scheme = "https" if _boolean(seed.get("minio_ssl", "false")) else "http"
            port = int(seed.get("minio_port") or 9000)
            values["s3_endpoint_url"] = f"{scheme}://{seed['minio_host']}:{port}"
    except (ValueError, TypeError) as e:
        raise SettingsError(f"invalid database or MinIO setting: {e}") from None
    return values


def _database_url(seed: dict[str, Any]) -> str:
    user = quote(str(seed.get("db_user") or "postgres"), safe="")
    password = str(seed.get("db_password") or "")
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    port = int(seed.get("db_port") or 5432)
    name = quote(str(seed.get("db_name") or "imgproc"), safe="")
    url = f"postgresql://{credentials}@{seed['db_host']}:{port}/{name}"
    if seed.get("db_ssl_mode"):
        url += f"?sslmode={quote(str(seed['db_ssl_mode']), safe='')}"
    return url


# Optional numbers: their default (None) cannot tell _coerce their type.
_OPTIONAL_PORTS = ("metrics_port",)


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
                coerced[name] = _boolean(raw)
            elif isinstance(default, int):
                coerced[name] = int(raw)
            elif isinstance(default, float):
                coerced[name] = float(raw)
            elif isinstance(default, Path):
                coerced[name] = Path(raw)
            elif name in _OPTIONAL_PORTS:
                coerced[name] = None if raw in ("", None) else int(raw)
            else:
                coerced[name] = None if raw in ("", None) else str(raw)
        except (ValueError, TypeError):  # TypeError: a list or mapping where a number goes
            raise SettingsError(f"setting {name!r} has an invalid value {raw!r}") from None
    for name in ("port", *_OPTIONAL_PORTS):
        if not 0 <= (coerced.get(name) or 0) <= MAX_PORT:
            raise SettingsError(
                f"setting {name!r} must be between 0 and {MAX_PORT}, not {coerced[name]}"
            )
    if "log_level" in coerced:
        coerced["log_level"] = _log_level(coerced["log_level"])
    return Settings(**coerced)


def _log_level(raw: str | None) -> str:
    """The canonical name of a logging level (`warn` is WARNING), one that both `logging`
    and uvicorn accept; NOTSET is refused, as uvicorn does not know it."""
    level = logging.getLevelNamesMapping().get(str(raw).upper())
    if level is None or level == logging.NOTSET:
        raise SettingsError(f"setting 'log_level' has an invalid value {raw!r}")
    return logging.getLevelName(level)


def _boolean(raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(raw)


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:{REDACTED}@{location}"
