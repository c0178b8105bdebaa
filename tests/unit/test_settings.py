"""Settings: the embedded default, the production names, and which source wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings, SettingsError, load_settings

SEED = {
    "DB_HOST": "postgres",
    "DB_PORT": "6543",
    "DB_USER": "app",
    "DB_PASSWORD": "p@ss word",
    "DB_NAME": "images",
    "DB_SSL_MODE": "require",
    "KAFKA_BROKERS": "kafka:9092",
    "KAFKA_TOPIC": "events",
    "KAFKA_GROUP_ID": "imgproc-eu",
    "MINIO_HOST": "minio",
    "MINIO_PORT": "9000",
    "MINIO_ROOT_USER": "minio-user",
    "MINIO_ROOT_PASSWORD": "minio-secret",
    "MINIO_SSL": "true",
    "S3_BUCKET_NAME": "pictures",
    "S3_LOCATION": "eu-west-1",
    "SERVER_PORT": "9090",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "local.yaml"
    path.write_text(text)
    return path


def test_with_nothing_set_everything_is_embedded() -> None:
    settings = load_settings({})

    assert settings == Settings()
    assert not settings.uses_postgres and not settings.uses_kafka and not settings.uses_s3


def test_the_seed_names_switch_every_adapter_to_production() -> None:
    settings = load_settings(SEED)

    assert settings.database_url == (
        "postgresql://app:p%40ss%20word@postgres:6543/images?sslmode=require"
    )
    assert (settings.kafka_brokers, settings.kafka_topic) == ("kafka:9092", "events")
    assert settings.group_id("processor") == "imgproc-eu-processor"
    assert settings.dead_letter_topic == "events.dead-letter"
    assert settings.s3_endpoint_url == "https://minio:9000"
    assert (settings.s3_access_key, settings.s3_secret_key) == ("minio-user", "minio-secret")
    assert (settings.bucket, settings.s3_region) == ("pictures", "eu-west-1")
    assert settings.port == 9090
    assert settings.uses_postgres and settings.uses_kafka and settings.uses_s3


def test_only_the_host_is_needed_for_postgres_and_minio() -> None:
    settings = load_settings({"DB_HOST": "db", "MINIO_HOST": "minio"})

    assert settings.database_url == "postgresql://postgres@db:5432/imgproc"
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert settings.bucket == "images"


def test_each_role_joins_its_own_consumer_group() -> None:
    settings = load_settings({"KAFKA_GROUP_ID": "imgproc"})

    groups = {settings.group_id(role) for role in ("processor", "projector", "janitor")}

    assert groups == {"imgproc-processor", "imgproc-projector", "imgproc-janitor"}


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, "max_pixels: 1000\nkafka_topic: from-file\nport: 7000\n")

    settings = load_settings({"IMGPROC_PORT": "7001", "KAFKA_TOPIC": "from-env"}, config)

    assert (settings.max_pixels, settings.kafka_topic, settings.port) == (1000, "from-env", 7001)


def test_the_file_may_use_the_seed_names_too(tmp_path: Path) -> None:
    config = write(tmp_path, "db_host: db\ndb_name: images\nkafka_brokers: kafka:9092\n")

    settings = load_settings({"DB_PASSWORD": "secret"}, config)

    # The password from the environment completes the file's database settings.
    assert settings.database_url == "postgresql://postgres:secret@db:5432/images"
    assert settings.kafka_brokers == "kafka:9092"


def test_a_setting_named_outright_wins_over_the_seed_names_of_the_same_source() -> None:
    env = {"DB_HOST": "db", "IMGPROC_DATABASE_URL": "postgresql://elsewhere/x"}

    assert load_settings(env).database_url == "postgresql://elsewhere/x"


def test_kafka_switches_for_the_test_broker() -> None:
    settings = load_settings(
        {"IMGPROC_KAFKA_IDEMPOTENT": "false", "IMGPROC_KAFKA_SESSION_TIMEOUT_MS": "2000"}
    )

    assert settings.kafka_idempotent is False
    assert settings.kafka_session_timeout_ms == 2000


def test_the_logged_settings_hold_no_secret() -> None:
    shown = load_settings(SEED).redacted()

    assert "minio-secret" not in str(shown)
    assert "p%40ss" not in str(shown) and "p@ss" not in str(shown)
    assert shown["database_url"] == "postgresql://app:***@postgres:6543/images?sslmode=require"
    assert shown["s3_access_key"] == "minio-user"


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"IMGPROC_PORT": "eighty"}, "'port'"),
        ({"IMGPROC_KAFKA_IDEMPOTENT": "perhaps"}, "'kafka_idempotent'"),
        ({"DB_HOST": "db", "DB_PORT": "x"}, "database"),
        ({"MINIO_HOST": "minio", "MINIO_SSL": "maybe"}, "MinIO"),
    ],
)
def test_an_unusable_value_is_refused_by_name(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        load_settings(env)


def test_an_unknown_key_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="'kafka_brokerz'"):
        load_settings({}, write(tmp_path, "kafka_brokerz: kafka:9092\n"))


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("max_pixels: [1]\n", "'max_pixels'"),
        ("port: {a: 1}\n", "'port'"),
        ("data_dir: [a, b]\n", "'data_dir'"),
        ("db_host: db\ndb_port: [5432]\n", "database"),
    ],
)
def test_a_list_or_mapping_where_a_value_goes_is_refused_by_name(
    tmp_path: Path, text: str, complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint):
        load_settings({}, write(tmp_path, text))


def test_a_file_that_is_not_yaml_is_refused_with_where(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"not valid YAML: .*\(line 1, column 1\)"):
        load_settings({}, write(tmp_path, ": : :\n"))


def test_a_config_path_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot be read"):
        load_settings({}, tmp_path)


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_outside_the_tcp_range_is_refused(port: str) -> None:
    with pytest.raises(SettingsError, match="'port' must be between 0 and 65535"):
        load_settings({"IMGPROC_PORT": port})


@pytest.mark.parametrize("level", ["bogus", "notset", ""])
def test_a_log_level_logging_does_not_know_is_refused(level: str) -> None:
    with pytest.raises(SettingsError, match="'log_level'"):
        load_settings({"IMGPROC_LOG_LEVEL": level})


@pytest.mark.parametrize(("level", "canonical"), [("debug", "DEBUG"), ("warn", "WARNING")])
def test_a_log_level_is_kept_under_its_canonical_name(level: str, canonical: str) -> None:
    assert load_settings({"IMGPROC_LOG_LEVEL": level}).log_level == canonical


def test_the_metrics_port_is_off_unless_set_and_must_be_a_port() -> None:
    assert load_settings({}).metrics_port is None
    assert load_settings({"IMGPROC_METRICS_PORT": "9100"}).metrics_port == 9100
    with pytest.raises(SettingsError, match="metrics_port"):
        load_settings({"IMGPROC_METRICS_PORT": "99999"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[("yes", True), ("on", True), ("1", True), ("TRUE", True)],
        *[("no", False), ("off", False), ("0", False), ("False", False)],
    ],
)
def test_a_boolean_may_be_spelt_as_the_deployment_scripts_do(text: str, value: bool) -> None:
    assert load_settings({"IMGPROC_S3_CREATE_BUCKET": text}).s3_create_bucket is value
    minio = load_settings({"MINIO_HOST": "minio", "MINIO_SSL": text}).s3_endpoint_url
    assert minio == f"{'https' if value else 'http'}://minio:9000"


def test_a_number_in_the_file_is_text_where_text_goes(tmp_path: Path) -> None:
    config = write(tmp_path, "kafka_group_id: 2024\ndb_host: db\ndb_password: 1234\n")

    settings = load_settings({}, config)

    assert settings.kafka_group_id == "2024"
    assert settings.database_url == "postgresql://postgres:1234@db:5432/imgproc"


def test_an_empty_variable_unsets_an_optional_setting(tmp_path: Path) -> None:
    config = write(tmp_path, "metrics_port: 9100\n")

    assert load_settings({"IMGPROC_METRICS_PORT": ""}, config).metrics_port is None


@pytest.mark.parametrize(
    "name", ["processing_workers", "max_pixels", "kafka_batch_size", "processing_time_limit"]
)
def test_sizes_counts_and_times_must_be_above_zero(name: str) -> None:
    with pytest.raises(SettingsError, match=f"setting '{name}' must be .* not '0'"):
        load_settings({f"IMGPROC_{name.upper()}": "0"})


def test_a_variable_no_setting_reads_any_more_is_ignored() -> None:
    assert load_settings({"IMGPROC_PROCESSING_ATTEMPTS": "3"}) == Settings()
