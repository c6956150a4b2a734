"""Settings from environment variables, checked once at start-up.

Why a module of its own: a worker that starts with a typo in its configuration fails
late and obscurely (a Kafka client timing out, a port that never opens). Every setting
is read and validated here, and a bad value stops start-up with a :class:`ConfigError`
that names the variable, so an operator knows what to fix.

The table in ``docs/configuration.md`` is generated from :data:`VARIABLES`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Logical topic name -> environment variable that renames it.
TOPIC_VARIABLES: dict[str, str] = {
    "clickstream": "ECOM_TOPIC_CLICKSTREAM",
    "orders": "ECOM_TOPIC_ORDERS",
    "payments": "ECOM_TOPIC_PAYMENTS",
    "fraud-labels": "ECOM_TOPIC_FRAUD_LABELS",
    "privacy-requests": "ECOM_TOPIC_PRIVACY_REQUESTS",
    "dead-letters": "ECOM_TOPIC_DEAD_LETTERS",
    "fraud-alerts": "ECOM_TOPIC_FRAUD_ALERTS",
    "risk-scores": "ECOM_TOPIC_RISK_SCORES",
    "recommendation-features": "ECOM_TOPIC_RECOMMENDATION_FEATURES",
    "user-profiles": "ECOM_TOPIC_USER_PROFILES",
    "marketing-triggers": "ECOM_TOPIC_MARKETING_TRIGGERS",
    "rekeyed": "ECOM_TOPIC_REKEYED",
    "item-pairs": "ECOM_TOPIC_ITEM_PAIRS",
    "fraud-entity-updates": "ECOM_TOPIC_FRAUD_ENTITY_UPDATES",
    "fraud-rules": "ECOM_TOPIC_FRAUD_RULES",
}

#: Topics the worker consumes, in the contract's order.
INPUT_TOPICS: tuple[str, ...] = (
    "clickstream",
    "orders",
    "payments",
    "fraud-labels",
    "privacy-requests",
)

#: Output topics whose messages are keyed by user id (they get erasure tombstones).
KEYED_OUTPUT_TOPICS: tuple[str, ...] = (
    "fraud-alerts",
    "risk-scores",
    "recommendation-features",
    "user-profiles",
    "marketing-triggers",
)

#: Topics that hold the latest value per key: compacted (the outputs' key is the user;
#: ``fraud-rules`` holds the rules document in force, docs/fraud.md).
COMPACTED_TOPICS: tuple[str, ...] = ("recommendation-features", "user-profiles", "fraud-rules")

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

DEV_PII_SECRET = "ecomstream-dev-secret-change-me"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Variable:
    """One documented environment variable."""

    name: str
    default: str
    help: str


VARIABLES: tuple[Variable, ...] = (
    Variable("KAFKA_BOOTSTRAP_SERVERS", "", "host:port[,host:port]. Empty: `ecomstream demo` "
             "starts the embedded broker; `worker` uses 127.0.0.1:9092."),
    Variable("ECOM_APP_ID", "ecomstream", "Faust app id: consumer group and table prefix."),
    Variable("ECOM_PARTITIONS", "4", "Partitions of every topic the project creates."),
    Variable("ECOM_STORE", "memory://", "Faust table store: `memory://` or `rocksdb://`."),
    Variable("ECOM_DATA_DIR", "./data", "Where Faust keeps local state (rocksdb)."),
    Variable("ECOM_WEB_PORT", "6066", "Faust web server port (HTTP queries, /stats)."),
    Variable("ECOM_METRICS_PORT", "9100", "Prometheus `/metrics` port; 0 disables it."),
    Variable("ECOM_METRICS_ENABLED", "true", "`false` turns every Prometheus metric into a "
             "no-op and serves no `/metrics` (to measure what metrics cost; "
             "docs/observability.md)."),
    Variable("ECOM_PII_SECRET", DEV_PII_SECRET, "HMAC-SHA256 key for personal data "
             "(at least 16 characters). Set your own in production."),
    Variable("ECOM_MAX_MESSAGE_BYTES", "1048576", "Larger input messages are dead-lettered "
             "as `too_large`."),
    Variable("ECOM_DEDUP_TTL_HOURS", "168", "How long (event time) an `event_id` is "
             "remembered for de-duplication."),
    Variable("ECOM_DEDUP_MAX_PER_USER", "5000", "Most event ids remembered per user."),
    Variable("ECOM_BATCH_MAX", "2000", "Most events handled per agent batch."),
    Variable("ECOM_BATCH_WITHIN_MS", "50", "Longest wait to fill a batch."),
    Variable("ECOM_FETCH_MAX_WAIT_MS", "100", "Longest time the broker may hold a fetch "
             "that found no new records (Faust fixes 1500; the embedded broker always "
             "waits this long, so it sets the latency floor there)."),
    Variable("ECOM_SESSION_TIMEOUT_S", "30", "Kafka consumer session timeout."),
    Variable("ECOM_ADVERTISED_HOST", "", "Host name other workers use to reach this "
             "one's web port (HTTP queries are routed to the owning worker). Empty: "
             "this machine's host name."),
    Variable("ECOM_PROFILE_INTERVAL_S", "10", "Least wall-clock time between two "
             "`user-profiles` messages for one user."),
    Variable("ECOM_SESSION_GAP_MIN", "30", "Minutes without events that end a session "
             "(event time)."),
    Variable("ECOM_CART_ABANDON_MIN", "60", "Minutes after the last cart change with no "
             "purchase before a cart counts as abandoned (event time)."),
    Variable("ECOM_LOG_LEVEL", "info", "Worker log level."),
    Variable("ECOM_RECOVERY_CONSISTENCY_CHECK", "true", "Faust's start-up check that a "
             "RocksDB store is not ahead of its changelog. Leave it on: it holds on the "
             "embedded broker too, whose end offsets `agents/end_offsets.py` confirms."),
    Variable("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "One of " + ", ".join(SECURITY_PROTOCOLS)),
    Variable("KAFKA_SASL_MECHANISM", "PLAIN", "One of " + ", ".join(SASL_MECHANISMS)),
    Variable("KAFKA_SASL_USERNAME", "", "SASL user name."),
    Variable("KAFKA_SASL_PASSWORD", "", "SASL password."),
    Variable("KAFKA_SSL_CAFILE", "", "CA bundle for SSL / SASL_SSL (PEM file)."),
    *(
        Variable(env, logical, f"Name of the `{logical}` topic.")
        for logical, env in TOPIC_VARIABLES.items()
        if logical not in ("rekeyed", "item-pairs", "fraud-entity-updates", "fraud-rules")
    ),
    Variable("ECOM_TOPIC_REKEYED", "ecomstream-rekeyed", "Internal topic for messages "
             "whose key was not their `user_id`."),
    Variable("ECOM_TOPIC_ITEM_PAIRS", "ecomstream-item-pairs", "Internal topic: "
             "co-visitation pair updates, keyed by item."),
    Variable("ECOM_TOPIC_FRAUD_ENTITY_UPDATES", "ecomstream-fraud-entity-updates",
             "Internal topic: fraud entity updates, on the entity's partition."),
    Variable("ECOM_TOPIC_FRAUD_RULES", "fraud-rules", "Compacted topic of fraud rules "
             "documents, read by every worker (key `active`; see docs/fraud.md)."),
    Variable("ECOM_CHECKPOINT_INTERVAL_S", "2", "Least wall-clock time between two "
             "checkpoints of a partition's state (models, sketches, trending)."),
    Variable("ECOM_RECOMMEND_INTERVAL_S", "1", "Least wall-clock time between two "
             "`recommendation-features` messages for one user."),
)

_DEFAULTS = {v.name: v.default for v in VARIABLES}


@dataclass(frozen=True)
class KafkaSecurity:
    """Kafka client security settings."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    username: str = ""
    password: str = ""
    cafile: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything a worker or a command-line tool needs to know."""

    bootstrap_servers: str = ""
    app_id: str = "ecomstream"
    partitions: int = 4
    store: str = "memory://"
    data_dir: str = "./data"
    web_port: int = 6066
    metrics_port: int = 9100
    metrics_enabled: bool = True
    pii_secret: str = DEV_PII_SECRET
    max_message_bytes: int = 1_048_576
    dedup_ttl_ms: int = 7 * 24 * 3_600_000
    dedup_max_per_user: int = 5000
    batch_max: int = 2000
    batch_within_s: float = 0.05
    fetch_max_wait_ms: int = 100
    session_timeout_s: float = 30.0
    advertised_host: str = ""
    profile_interval_s: float = 10.0
    recommend_interval_s: float = 1.0
    checkpoint_interval_s: float = 2.0
    session_gap_ms: int = 30 * 60_000
    cart_abandon_ms: int = 60 * 60_000
    log_level: str = "info"
    recovery_consistency_check: bool = True
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    topics: dict[str, str] = field(
        default_factory=lambda: {k: _DEFAULTS[v] for k, v in TOPIC_VARIABLES.items()}
    )

    @property
    def broker_url(self) -> str:
        """The Faust broker URL (``kafka://host:port;host:port``)."""
        servers = self.bootstrap_servers or "127.0.0.1:9092"
        return ";".join(f"kafka://{s.strip()}" for s in servers.split(",") if s.strip())

    def topic(self, logical: str) -> str:
        """Physical topic name for a logical one (``"orders"`` -> ``"orders"``)."""
        return self.topics[logical]

    def kafka_client_kwargs(self) -> dict[str, Any]:
        """Security keyword arguments for kafka-python clients."""
        sec = self.security
        kwargs: dict[str, Any] = {"security_protocol": sec.protocol}
        if sec.protocol.startswith("SASL"):
            kwargs |= {
                "sasl_mechanism": sec.sasl_mechanism,
                "sasl_plain_username": sec.username,
                "sasl_plain_password": sec.password,
            }
        if sec.protocol.endswith("SSL") and sec.cafile:
            kwargs["ssl_cafile"] = sec.cafile
        return kwargs

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every variable; raise :class:`ConfigError` on a bad one.

        >>> Settings.from_env({"ECOM_PARTITIONS": "8"}).partitions
        8
        >>> Settings.from_env({"ECOM_PARTITIONS": "zero"})
        Traceback (most recent call last):
        ...
        agents.config.ConfigError: ECOM_PARTITIONS: must be an integer, got 'zero'
        """
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(name, _DEFAULTS[name]).strip()

        store = get("ECOM_STORE")
        if not (store.startswith("memory://") or store.startswith("rocksdb://")):
            raise ConfigError("ECOM_STORE", f"must be memory:// or rocksdb://, got {store!r}")
        secret = get("ECOM_PII_SECRET")
        if len(secret) < 16:
            raise ConfigError("ECOM_PII_SECRET", "must be at least 16 characters")
        servers = get("KAFKA_BOOTSTRAP_SERVERS")
        for server in filter(None, (s.strip() for s in servers.split(","))):
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError("KAFKA_BOOTSTRAP_SERVERS", f"expected host:port, got {server!r}")
        topics = {}
        for logical, var in TOPIC_VARIABLES.items():
            name = get(var)
            if not name or any(c not in _TOPIC_CHARS for c in name) or len(name) > 249:
                raise ConfigError(var, f"not a valid Kafka topic name: {name!r}")
            topics[logical] = name
        if len(set(topics.values())) != len(topics):
            raise ConfigError("ECOM_TOPIC_*", "two logical topics share one physical name")
        security = KafkaSecurity(
            protocol=_choice(get, "KAFKA_SECURITY_PROTOCOL", SECURITY_PROTOCOLS),
            sasl_mechanism=_choice(get, "KAFKA_SASL_MECHANISM", SASL_MECHANISMS),
            username=get("KAFKA_SASL_USERNAME"),
            password=env.get("KAFKA_SASL_PASSWORD", ""),
            cafile=get("KAFKA_SSL_CAFILE"),
        )
        if security.protocol.startswith("SASL") and not security.username:
            raise ConfigError("KAFKA_SASL_USERNAME", f"required with {security.protocol}")
        if security.cafile and not os.path.isfile(security.cafile):
            raise ConfigError("KAFKA_SSL_CAFILE", f"no such file: {security.cafile!r}")
        log_level = get("ECOM_LOG_LEVEL").lower()
        if log_level not in ("debug", "info", "warning", "error", "critical"):
            raise ConfigError("ECOM_LOG_LEVEL", f"unknown level {log_level!r}")
        return cls(
            bootstrap_servers=servers,
            app_id=get("ECOM_APP_ID") or "ecomstream",
            partitions=_number(get, "ECOM_PARTITIONS", int, 1, 1024),
            store=store,
            data_dir=get("ECOM_DATA_DIR"),
            web_port=_number(get, "ECOM_WEB_PORT", int, 1, 65535),
            metrics_port=_number(get, "ECOM_METRICS_PORT", int, 0, 65535),
            metrics_enabled=_flag(get, "ECOM_METRICS_ENABLED"),
            pii_secret=secret,
            max_message_bytes=_number(get, "ECOM_MAX_MESSAGE_BYTES", int, 1024, 100 << 20),
            dedup_ttl_ms=int(_number(get, "ECOM_DEDUP_TTL_HOURS", float, 0.001, 1e5) * 3.6e6),
            dedup_max_per_user=_number(get, "ECOM_DEDUP_MAX_PER_USER", int, 10, 10**7),
            batch_max=_number(get, "ECOM_BATCH_MAX", int, 1, 100_000),
            batch_within_s=_number(get, "ECOM_BATCH_WITHIN_MS", float, 1, 60_000) / 1000,
            fetch_max_wait_ms=_number(get, "ECOM_FETCH_MAX_WAIT_MS", int, 1, 60_000),
            session_timeout_s=_number(get, "ECOM_SESSION_TIMEOUT_S", float, 3, 600),
            advertised_host=get("ECOM_ADVERTISED_HOST"),
            profile_interval_s=_number(get, "ECOM_PROFILE_INTERVAL_S", float, 0, 86_400),
            recommend_interval_s=_number(get, "ECOM_RECOMMEND_INTERVAL_S", float, 0, 86_400),
            checkpoint_interval_s=_number(get, "ECOM_CHECKPOINT_INTERVAL_S", float, 0, 3600),
            session_gap_ms=int(_number(get, "ECOM_SESSION_GAP_MIN", float, 0.1, 10_080) * 60_000),
            cart_abandon_ms=int(_number(get, "ECOM_CART_ABANDON_MIN", float, 0.1, 43_200)
                                * 60_000),
            log_level=log_level,
            recovery_consistency_check=_flag(get, "ECOM_RECOVERY_CONSISTENCY_CHECK"),
            security=security,
            topics=topics,
        )


_TOPIC_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _number(get: Callable[[str], str], name: str, kind: type, low: float, high: float) -> Any:
    raw = get(name)
    try:
        value = kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise ConfigError(name, f"must be {noun}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"must be between {low:g} and {high:g}, got {raw!r}")
    return value


def _flag(get: Callable[[str], str], name: str) -> bool:
    value = get(name).lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(name, f"must be true or false, got {value!r}")
    return value in ("true", "1", "yes")


def _choice(get: Callable[[str], str], name: str, allowed: tuple[str, ...]) -> str:
    value = get(name).upper()
    if value not in allowed:
        raise ConfigError(name, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value
