"""Configuration: documented defaults, and a bad value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.cli import main
from agents.config import ConfigError, Settings
from agents.docs_config import render

BAD = {
    "ECOM_PARTITIONS": "0",
    "ECOM_STORE": "redis://",
    "ECOM_WEB_PORT": "http",
    "ECOM_PII_SECRET": "short",
    "KAFKA_BOOTSTRAP_SERVERS": "no-port-here",
    "KAFKA_SECURITY_PROTOCOL": "TLS",
    "KAFKA_SASL_MECHANISM": "MAGIC",
    "ECOM_TOPIC_ORDERS": "bad topic!",
    "KAFKA_SSL_CAFILE": "/nonexistent/ca.pem",
    "ECOM_BATCH_WITHIN_MS": "-5",
    "ECOM_LOG_LEVEL": "loud",
    "ECOM_RECOVERY_CONSISTENCY_CHECK": "maybe",
}


def test_defaults_match_the_documented_table():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.topic("orders") == "orders"
    assert settings.broker_url == "kafka://127.0.0.1:9092"


@pytest.mark.parametrize(("variable", "value"), sorted(BAD.items()))
def test_bad_value_names_the_variable(variable, value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({variable: value})
    assert info.value.variable == variable
    assert str(info.value).startswith(variable)


def test_sasl_needs_a_username_and_builds_client_options():
    with pytest.raises(ConfigError, match="KAFKA_SASL_USERNAME"):
        Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    settings = Settings.from_env({
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "svc", "KAFKA_SASL_PASSWORD": "pw",
        "KAFKA_BOOTSTRAP_SERVERS": "a:9093,b:9093",
    })
    assert settings.kafka_client_kwargs()["sasl_mechanism"] == "SCRAM-SHA-512"
    assert settings.broker_url == "kafka://a:9093;kafka://b:9093"


def test_cli_stops_with_the_variable_name(monkeypatch, capsys):
    monkeypatch.setenv("ECOM_PARTITIONS", "many")
    with pytest.raises(SystemExit) as info:
        main(["config"])
    assert info.value.code == 2
    assert "ECOM_PARTITIONS" in capsys.readouterr().err


def test_configuration_doc_is_current():

    doc = Path(__file__).parents[2] / "docs" / "configuration.md"
    assert doc.read_text() == render(), "run: python -m agents.docs_config"
