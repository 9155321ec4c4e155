"""A throwaway single-node Apache Kafka broker (KRaft) for development, tests and CI.

See ``LocalKafka`` for the Python API, ``python -m localkafka --help`` for the command line and
``localkafka.pytest_plugin`` for the ``kafka_broker`` pytest fixture.
"""

from localkafka.broker import (
    DEFAULT_HEAP_OPTS,
    BrokerStartError,
    LocalKafka,
    LocalKafkaError,
    ToolMissingError,
    default_cache_root,
    ensure_jars,
    find_kafka_dir,
    free_port,
    pid_alive,
    stop_process_group,
)

__all__ = [
    "DEFAULT_HEAP_OPTS",
    "BrokerStartError",
    "LocalKafka",
    "LocalKafkaError",
    "ToolMissingError",
    "default_cache_root",
    "ensure_jars",
    "find_kafka_dir",
    "free_port",
    "pid_alive",
    "stop_process_group",
]
