"""Settings, read once at start from the environment and an optional YAML file.

Environment variables win over the file. Every part receives the Settings
object it needs; nothing reads the environment later. Each setting has an
`IMGPROC_*` variable (`IMGPROC_KAFKA_TOPIC`) and a lower-case key in the file
(`kafka_topic`); the names the deployment scripts already use (`DB_HOST`,
`KAFKA_BROKERS`, `MINIO_HOST`, …, see SEED_NAMES) are accepted in either place.
README.md's Configuration section lists them all, and which role reads which.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

import msgspec
import msgspec.inspect as mi
import yaml

MiB = 1024 * 1024
MAX_PORT = 65535
ENV_PREFIX = "IMGPROC_"
REDACTED = "***"

Port = Annotated[int, msgspec.Meta(ge=0, le=MAX_PORT)]
Count = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]

T = TypeVar("T", bound=msgspec.Struct)


class SettingsError(ValueError):
    """A setting has a value we cannot use."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data_dir: Path = Path(".imgproc")
    host: str = "127.0.0.1"
    port: Port = 8080
    # A PostgreSQL URL; when unset, the event store and read model live in a
    # SQLite file under data_dir.
    database_url: str | None = None
    max_upload_bytes: Count = 20 * MiB
    max_pixels: Count = 50_000_000
    processing_workers: Count = 2
    # Where renders run: worker processes (each with its own GIL, killed when overdue) or threads.
    processing_pool: Literal["processes", "threads"] = "processes"
    processing_time_limit: Seconds = 30.0  # seconds one image may take
    max_output_dimension: Count = 16384  # pixels a side of any result
    poll_interval: Seconds = 0.05  # seconds between idle polls of the event log
    # How long a read carrying a command's version waits for the read model to reach it
    # before the event store answers it.
    read_your_writes_wait: Seconds = 2.0
    log_level: str = "INFO"
    # Worker processes serve their Prometheus metrics on this port (on `host`); unset, none.
    metrics_port: Port | None = None
    # Kafka: when unset, consumers follow the event store's notification log.
    kafka_brokers: str | None = None
    kafka_topic: str = "image-events"
    kafka_dead_letter_topic: str | None = None  # default: "<kafka_topic>.dead-letter"
    kafka_group_id: str = "imgproc"  # prefix: each role joins "<kafka_group_id>-<role>"
    kafka_partitions: Count = 6  # when the topic has to be created
    kafka_idempotent: bool = True  # idempotent producer (brokers without it need false)
    kafka_batch_size: Count = 256  # events per published or consumed batch
    kafka_session_timeout_ms: Count = 10_000
    kafka_heartbeat_interval_ms: Count = 3_000
    kafka_rebalance_timeout_ms: Count = 10_000
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
    def upload_dir(self) -> Path:
        """Where uploads past their first MiB are spooled while blobs are local."""
        return self.data_dir / "uploads"

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
        changed = {k: v for k, v in changes.items() if v is not None}
        return msgspec.structs.replace(self, **changed)

    def redacted(self) -> dict[str, Any]:
        """Every setting, fit for a log: passwords and secret keys masked."""
        values = msgspec.structs.asdict(self)
        values["data_dir"] = str(self.data_dir)
        if self.s3_secret_key is not None:
            values["s3_secret_key"] = REDACTED
        if self.database_url is not None:
            values["database_url"] = _without_password(self.database_url)
        return values


class _Database(msgspec.Struct):
    """The seed's DB_* names, which build the database URL (other names are ignored)."""

    db_host: str
    db_port: Port = 5432
    db_user: str = "postgres"
    db_password: str = ""
    db_name: str = "imgproc"
    db_ssl_mode: str = ""

    def url(self) -> str:
        user, password, name = (
            quote(p, safe="") for p in (self.db_user, self.db_password, self.db_name)
        )
        credentials = f"{user}:{password}" if password else user
        query = f"?sslmode={quote(self.db_ssl_mode, safe='')}" if self.db_ssl_mode else ""
        return f"postgresql://{credentials}@{self.db_host}:{self.db_port}/{name}{query}"


class _Minio(msgspec.Struct):
    """The seed's MINIO_* names, which build the S3 endpoint."""

    minio_host: str
    minio_port: Port = 9000
    minio_ssl: bool = False

    def url(self) -> str:
        return f"{'https' if self.minio_ssl else 'http'}://{self.minio_host}:{self.minio_port}"


def load_settings(env: Mapping[str, str], config_file: Path | None = None) -> Settings:
    """Settings from a YAML file (if given and present) overridden by the environment."""
    file_values = _read_file(config_file)
    file_seed = {k: v for k, v in file_values.items() if k.upper() in SEED_NAMES}
    file_own = {k: v for k, v in file_values.items() if k not in file_seed}
    env_seed = {name.lower(): env[name] for name in SEED_NAMES if name in env}
    env_own = {name: env[_var(name)] for name in Settings.__struct_fields__ if _var(name) in env}
    # A seed part from the environment completes the file's parts (DB_PASSWORD alone).
    from_env_seed = {_SEED_FIELDS[name.upper()] for name in env_seed}
    merged = _from_seed_names(file_seed | env_seed)
    values = _from_seed_names(file_seed) | file_own  # a setting named outright wins
    values |= {k: v for k, v in merged.items() if k in from_env_seed}
    values |= env_own
    if "log_level" in values:
        values["log_level"] = _log_level(values["log_level"])
    return _convert(values, Settings, "setting")


def _read_file(config_file: Path | None) -> dict[str, Any]:
    """The file's settings with lower-case keys; none when there is no file."""
    try:
        if config_file is None or not config_file.exists():
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
_SEED_FIELDS = (
    _RENAMED
    | {name.upper(): "database_url" for name in _Database.__struct_fields__}
    | {name.upper(): "s3_endpoint_url" for name in _Minio.__struct_fields__}
)
SEED_NAMES = frozenset(_SEED_FIELDS)


def _from_seed_names(seed: dict[str, Any]) -> dict[str, Any]:
    """Settings from seed names (keys in lower case). DB_HOST switches to PostgreSQL and
    MINIO_HOST to S3; the other parts only fill in their URL, empty ones their default."""
    values = {_RENAMED[k.upper()]: v for k, v in seed.items() if k.upper() in _RENAMED}
    parts = {k: v for k, v in seed.items() if v not in ("", None)}
    if parts.get("db_host"):
        values["database_url"] = _convert(parts, _Database, "database setting").url()
    if parts.get("minio_host"):
        values["s3_endpoint_url"] = _convert(parts, _Minio, "MinIO setting").url()
    return values


# msgspec reads true/false and 1/0 as booleans; deployment files also say yes/no, on/off.
_SPOKEN_BOOLEANS = {"yes": "true", "on": "true", "no": "false", "off": "false"}


def _convert(values: dict[str, Any], into: type[T], what: str) -> T:
    """`values` as an `into`, each read as text as if from the environment; a refusal
    names the setting and says what it must be."""
    given = {k: v if v is None or isinstance(v, list | dict) else str(v) for k, v in values.items()}
    fields = {field.name: field for field in msgspec.structs.fields(into)}
    for name, field in fields.items():
        value = given.get(name)
        if field.type is bool and isinstance(value, str):
            given[name] = _SPOKEN_BOOLEANS.get(value.lower(), value)
        elif field.default is None and value == "":
            given[name] = None
    try:  # the hook builds data_dir, the one type msgspec leaves to us
        return msgspec.convert(given, into, strict=False, dec_hook=lambda kind, v: kind(v))
    except msgspec.ValidationError as e:
        if unknown := re.search(r"unknown field `(.*)`", str(e)):
            raise SettingsError(f"unknown {what} {unknown[1]!r}") from None
        name = str(e).rpartition("`$.")[2].rstrip("`")
        wanted = _wanted(mi.type_info(fields[name].type))
        raise SettingsError(f"{what} {name!r} must be {wanted}, not {given[name]!r}") from None


def _wanted(kind: mi.Type) -> str:
    """What a value of this type looks like, in words (every number we take is above 0)."""
    match kind:
        case mi.UnionType(types=(inner, mi.NoneType())):
            return f"{_wanted(inner)}, or empty"
        case mi.IntType(ge=0, le=int(high)):
            return f"between 0 and {high}"
        case mi.IntType() | mi.FloatType():
            return "a number above 0"
        case mi.BoolType():
            return "true or false"
    return "a path" if isinstance(kind, mi.CustomType) else "text"


def _log_level(raw: Any) -> str:
    """The canonical name of a logging level (`warn` is WARNING), one that both `logging`
    and uvicorn accept; NOTSET is refused, as uvicorn does not know it."""
    level = logging.getLevelNamesMapping().get(str(raw).upper())
    if level is None or level == logging.NOTSET:
        raise SettingsError(f"setting 'log_level' has an invalid value {raw!r}")
    return logging.getLevelName(level)


def _without_password(url: str) -> str:
    """`scheme://user:password@…` with the password masked (up to the last `@`)."""
    return re.sub(r"^(.*?://[^:]*):.*@", rf"\1:{REDACTED}@", url)
