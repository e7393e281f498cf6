"""End to end: the window on a live plc_sim, `hmi demo` offscreen and under a real X server, and clean shutdown."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

from hmi.config import parse_config
from hmi.ui.pane_registry import PaneSpec

ROOT = Path(__file__).resolve().parent.parent
SIM_URL = re.compile(r"simulated plant at opc\.tcp://127\.0\.0\.1:(\d+)/")
BROKER_URL = re.compile(r"shopfloors on (mqtt://127\.0\.0\.1:(\d+))")
DUMMY_PANES = [PaneSpec("overview", "Overview", lambda ctx: QLabel("overview"), Qt.DockWidgetArea.LeftDockWidgetArea)]


def needs_real_panes() -> None:
    pytest.importorskip("hmi.ui.panes.overview", reason="the overview pane is not there yet")
    pytest.importorskip("hmi.ui.panes.trends", reason="the trends pane is not there yet")


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def sim_processes(port: int) -> list[str]:
    out = subprocess.run(["pgrep", "-af", f"plc_sim --port {port}"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def mes_processes(url: str, port: int) -> list[str]:
    """The demo's embedded broker and its shopfloor-sim, by their command lines."""
    lines = []
    for pattern in (f"shopfloor_sim.broker --port {port}", f"shopfloor_sim --broker {url}"):
        out = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
        lines += [line for line in out.splitlines() if line.strip()]
    return lines


class Demo:
    """`hmi demo` as a subprocess; stderr read on a thread."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> None:
        cmd = [*prefix, sys.executable, "-m", "hmi.cli", "demo", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} from hmi demo; stderr:\n" + "\n".join(self.lines[-40:]))

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def sim_port(self) -> int:
        m = SIM_URL.search(self.text)
        assert m, self.text
        return int(m.group(1))

    def broker(self) -> tuple[str, int]:
        m = BROKER_URL.search(self.text)
        assert m, self.text
        return m.group(1), int(m.group(2))


def assert_screenshot(path: Path) -> None:
    assert path.exists(), "no screenshot"
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() >= 800 and image.height() >= 500
    assert path.stat().st_size > 20_000  # a window with content, not a blank picture


def assert_nothing_left(demo: Demo) -> None:
    port = demo.sim_port()
    assert port_is_free(port), f"plc_sim still serves on {port}"
    assert sim_processes(port) == []
    url, broker_port = demo.broker()
    assert port_is_free(broker_port), f"the embedded broker still serves on {broker_port}"
    assert living(mes_processes(url, broker_port)) == []


@pytest.mark.slow
def test_demo_offscreen_screenshot_exits_0_and_leaves_nothing_running(tmp_path):
    needs_real_panes()
    shot = tmp_path / "shot.png"
    demo = Demo("--offscreen", "--screenshot", str(shot), "--run-for", "12")
    code = demo.finish(120)
    assert code == 0, demo.text
    assert "first live value on screen" in demo.text
    assert "demo orders: released ORD-" in demo.text  # the shopfloors came online and orders flow
    assert re.search(r"broker=stopped \| orders received \d+ applied [1-9]", demo.text), demo.text
    assert_screenshot(shot)
    assert_nothing_left(demo)


@pytest.mark.slow
def test_sigterm_closes_the_demo_and_stops_the_simulator():
    needs_real_panes()
    demo = Demo("--offscreen")
    demo.wait_for("first live value on screen", 60)
    demo.proc.send_signal(signal.SIGTERM)
    assert demo.finish(60) == 0, demo.text
    assert_nothing_left(demo)


@pytest.mark.slow
def test_a_killed_demo_takes_its_simulator_with_it():
    needs_real_panes()
    demo = Demo("--offscreen")
    demo.wait_for("first live value on screen", 60)
    demo.proc.kill()  # SIGKILL: no handler, no finally runs in the HMI
    demo.finish(30)
    port = demo.sim_port()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not port_is_free(port) or living(sim_processes(port))):
        time.sleep(0.1)
    assert port_is_free(port) and not living(sim_processes(port)), "plc_sim outlived a SIGKILLed hmi demo"
    url, broker_port = demo.broker()
    while time.monotonic() < deadline and (not port_is_free(broker_port) or living(mes_processes(url, broker_port))):
        time.sleep(0.1)
    assert port_is_free(broker_port) and not living(mes_processes(url, broker_port)), "the broker or shopfloors outlived it"


def living(processes: list[str]) -> list[str]:
    """The pgrep lines of processes that still run (an orphaned zombie waits for init to reap it)."""
    alive = []
    for line in processes:
        status = Path(f"/proc/{line.split()[0]}/status")
        if status.exists() and "zombie" not in status.read_text():
            alive.append(line)
    return alive


def test_sigterm_during_start_up_stops_the_simulator_too():
    demo = Demo("--offscreen")
    # SIGTERM as soon as the simulator has been launched (before the window is connected).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-P", str(demo.proc.pid), "-f", "plc_sim --port"], capture_output=True,
                             text=True).stdout.split()
        if out:
            break
        time.sleep(0.02)
    assert out, "hmi demo started no simulator"
    child = int(out[0])
    demo.proc.send_signal(signal.SIGTERM)
    # 0 or 130 once the window's handlers are in, killed by the signal before that (start-up).
    assert demo.finish(60) in (0, 130, -signal.SIGTERM), demo.text
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.05)
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "zombie" in status.read_text(), f"plc_sim {child} still runs"


def test_screenshot_without_run_for_is_refused_with_one_line():
    proc = subprocess.run([sys.executable, "-m", "hmi.cli", "demo", "--offscreen", "--screenshot", "x.png"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "--screenshot needs --run-for" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_demo_under_a_real_x_server(tmp_path):
    """The same demo in a real (virtual) X11 window: CI installs xvfb; locally it is skipped without it."""
    if shutil.which("xvfb-run") is None:
        if os.environ.get("CI"):
            pytest.fail("xvfb-run is missing on CI: .ci/run installs xvfb")
        pytest.skip("xvfb-run is not installed (apt-get install xvfb xauth libxcb-icccm4 libxcb-keysyms1)")
    needs_real_panes()
    shot = tmp_path / "x.png"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    demo = Demo("--screenshot", str(shot), "--run-for", "10", env=env,
                prefix=("xvfb-run", "-a", "-s", "-screen 0 1600x900x24"))
    code = demo.finish(120)
    assert code == 0, demo.text
    assert_screenshot(shot)
    assert_nothing_left(demo)


def test_run_gui_shows_the_link_up_and_stores_samples(plc_sim, tmp_path):
    from hmi.app import run_gui

    config = parse_config(plc_sim.config_text, "plc-sim --print-config")
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    seen: list[str] = []

    def look(window) -> None:
        seen.extend(label.text() for label in window.status.link_labels.values())
        seen.append(window.status.stored_label.text())

    def watch(window) -> None:
        timer = QTimer(window)
        timer.timeout.connect(lambda: look(window))
        timer.start(100)

    shot = tmp_path / "w.png"
    code = run_gui(config, url, screenshot=shot, run_for=4, panes=DUMMY_PANES, on_window=watch, migrate=True)
    assert code == 0
    assert "● plc1 up" in seen
    assert shot.exists()
    assert any(t.startswith("stored ") and t != "stored 0" for t in seen)


def test_window_on_a_runtime_in_a_qasync_loop(plc_sim, tmp_path, qasync_loop, qtbot):
    """The qasync fixture: Runtime, context and window wired by hand, as hmi.app does."""
    import asyncio

    from hmi.runtime import Runtime
    from hmi.store.migrate import upgrade
    from hmi.ui.context import AppContext
    from hmi.ui.main_window import MainWindow

    config = parse_config(plc_sim.config_text, "plc-sim --print-config")
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url)
    runtime = Runtime(config, url)
    ctx = AppContext(runtime.plant, runtime.bus, url, links=lambda: tuple(s.status for s in runtime.sources),
                     historian=runtime.writer.stats)
    window = MainWindow(ctx, DUMMY_PANES)
    qtbot.addWidget(window)
    ticks: list[set[str]] = []
    ctx.tick.connect(ticks.append)

    async def scenario() -> str:
        await runtime.start()
        ctx.start()
        try:
            for _ in range(100):
                await asyncio.sleep(0.1)
                if ticks and window.status.link_labels.get("plc1") is not None \
                        and window.status.link_labels["plc1"].text().endswith("up"):
                    break
            return window.status.link_labels["plc1"].text()
        finally:
            ctx.stop()
            await runtime.stop()

    assert qasync_loop.run_until_complete(scenario()) == "● plc1 up"
    assert set().union(*ticks) <= {t.tag_id for t in runtime.plant.tags} and ticks
