"""A single-node KRaft Apache Kafka broker resolved from Maven Central, run on loopback.

The jars are fetched once into a cache with Maven; each broker gets its own data directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from claimflow_local._process import free_port, port_open, read_pid, stop_pid, wait_until

POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
DEFAULT_CACHE = Path(os.environ.get("CLAIMFLOW_CACHE", Path.home() / ".cache" / "claimflow"))

LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="{log}">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="WARN"/>
    <Logger name="kafka.server.KafkaServer" level="INFO"/>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""


def kafka_jars(cache: Path = DEFAULT_CACHE) -> Path:
    """Resolve the broker's jars from Maven Central into the cache, once."""
    jars = cache / "kafka-jars"
    marker = jars / ".complete"
    if marker.exists():
        return jars
    jars.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={jars}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    marker.write_text("ok\n")
    return jars


@dataclass
class KafkaBroker:
    """A broker process on loopback whose data lives under `home`."""

    home: Path
    port: int
    controller_port: int
    pid: int | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    def _properties(self) -> str:
        internal = [
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=6",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
        ]
        return (
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.home / 'data'}",
                    "num.partitions=6",
                    "auto.create.topics.enable=true",
                    "group.initial.rebalance.delay.ms=0",
                    "log.flush.interval.messages=9223372036854775807",
                    *internal,
                ]
            )
            + "\n"
        )

    def start(self, *, cache: Path = DEFAULT_CACHE, timeout: float = 120.0) -> KafkaBroker:
        jars = kafka_jars(cache)
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        props.write_text(self._properties())
        log4j = self.home / "log4j2.xml"
        log4j.write_text(LOG4J2.format(log=self.log_file))
        java = shutil.which("java") or "java"
        classpath = f"{jars}/*"
        jvm = [
            "-Xmx512m",
            "-Xms256m",
            f"-Dlog4j2.configurationFile={log4j}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
        ]
        if not (self.home / "data" / "meta.properties").exists():
            subprocess.run(
                [
                    java,
                    *jvm,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "-t",
                    uuid.uuid4().hex[:22],
                    "-c",
                    str(props),
                ],
                check=True,
                capture_output=True,
            )
        if self.log_file.exists():
            # Readiness reads this log: keep the previous run's beside it, not in it.
            self.log_file.replace(self.log_file.with_suffix(".log.1"))
        with open(self.home / "broker.out", "ab") as out:
            proc = subprocess.Popen(
                [java, *jvm, "-cp", classpath, "kafka.Kafka", str(props)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = proc.pid
        self.pid_file.write_text(str(proc.pid))
        try:
            wait_until(self.ready, timeout=timeout, what="Kafka broker", log=self.log_file)
        except BaseException:
            self.stop()
            raise
        return self

    def ready(self) -> bool:
        if not port_open(self.port):
            return False
        return (
            "Kafka Server started" in self.log_file.read_text(errors="replace")
            if self.log_file.exists()
            else False
        )

    def kill(self) -> None:
        """SIGKILL the broker: the failure tests' crash, not a shutdown."""
        pid = self.pid or read_pid(self.pid_file)
        if pid:
            stop_pid(pid, timeout=0)

    def stop(self) -> None:
        pid = self.pid or read_pid(self.pid_file)
        if pid:
            stop_pid(pid)
        self.pid = None
        self.pid_file.unlink(missing_ok=True)


def new_broker(home: Path, port: int | None = None) -> KafkaBroker:
    return KafkaBroker(home=home, port=port or free_port(), controller_port=free_port())


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["fetch"]:
        print(f"Kafka jars ready in {kafka_jars()}")
    else:
        sys.exit("usage: python -m claimflow_local.kafka fetch")
