"""Real MQTT brokers for the tests: Mosquitto (Debian's, installed by .ci/run) and the embedded amqtt.

``mosquitto`` and ``amqtt_broker`` are shared by the whole session (use your own topics: a test's
shopfloor ids are unique). A test that kills or restarts a broker takes its own from
``broker_factory("mosquitto" | "amqtt")``; ``kill()`` is SIGKILL, ``restart()`` comes back on the same
port with the same persistence directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hmi.sim_process import free_port, kill_process, stop_process

ROOT = Path(__file__).resolve().parent.parent
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Broker:
    """One broker process on 127.0.0.1:port."""

    def __init__(self, kind: str, workdir: Path, port: int | None = None) -> None:
        if kind not in ("mosquitto", "amqtt"):
            raise ValueError(f"unknown broker kind {kind!r}")
        self.kind = kind
        self.port = port or free_port()
        self.workdir = workdir
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / f"{kind}.log"

    def _command(self) -> list[str]:
        if self.kind == "amqtt":
            return [sys.executable, "-m", "shopfloor_sim.broker", "--port", str(self.port)]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            # As root Mosquitto drops to the mosquitto user, who cannot write the test's folder: stay root.
            + ("user root\n" if os.geteuid() == 0 else "")
            + "log_dest stderr\n"
            "log_type error\nlog_type warning\n"
        )
        return [MOSQUITTO, "-c", str(conf)]

    def start(self, timeout: float = 20.0) -> Broker:
        """Start the broker and wait until it accepts TCP connections."""
        if self.kind == "mosquitto" and not os.path.exists(MOSQUITTO):
            pytest.fail("mosquitto is not installed: run .ci/run, or apt-get install mosquitto")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not listen on port {self.port} within {timeout:g} s")

    def kill(self) -> None:
        """SIGKILL: the broker forgets whatever it had not written to disk."""
        kill_process(self.proc)

    def stop(self) -> None:
        """SIGTERM and wait (Mosquitto saves its store on a clean stop)."""
        stop_process(self.proc)

    def restart(self) -> Broker:
        """Start again on the same port and persistence directory (after kill or stop)."""
        self.stop()
        return self.start()


@pytest.fixture
def broker_factory(tmp_path_factory) -> Iterator:
    """``broker_factory("mosquitto")`` -> a started Broker of the test's own, stopped at the end."""
    started: list[Broker] = []

    def start(kind: str = "mosquitto") -> Broker:
        broker = Broker(kind, tmp_path_factory.mktemp(kind))
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory) -> Iterator[Broker]:
    """A Mosquitto for the whole session (persistence on, max_queued_messages 100,000)."""
    broker = Broker("mosquitto", tmp_path_factory.mktemp("mosquitto-shared")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def amqtt_broker(tmp_path_factory) -> Iterator[Broker]:
    """The embedded amqtt broker for the whole session."""
    broker = Broker("amqtt", tmp_path_factory.mktemp("amqtt-shared")).start()
    yield broker
    broker.stop()


@pytest.fixture(params=["mosquitto", "amqtt"])
def any_broker(request) -> Broker:
    """Each of the two shared brokers in turn (a test with it runs twice)."""
    return request.getfixturevalue("mosquitto" if request.param == "mosquitto" else "amqtt_broker")
