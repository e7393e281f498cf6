"""The Qt stack on this machine: no PySide6 reference-count crash, and fonts that Qt can see."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Exercises what PySide6 6.12 got wrong on Python 3.11 (STACK.md): each Signal.emit() dropped a
# reference to True, each setText()/QTimer.singleShot() one to None, and the process died with
# "Fatal Python error: bool_dealloc / none_dealloc" (exit 134), sometimes only at exit.
STRESS = textwrap.dedent(
    """
    import os
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QObject, QTimer, Signal
    from PySide6.QtWidgets import QApplication, QLabel

    class Emitter(QObject):
        fired = Signal(object)

    app = QApplication([])
    emitter = Emitter()
    seen = []
    emitter.fired.connect(seen.append)
    for i in range(20_000):
        emitter.fired.emit(i % 2 == 0)
    label = QLabel()
    for i in range(20_000):
        label.setText(str(i))
    count = [0]
    def bump():
        count[0] += 1
    for _ in range(5_000):
        QTimer.singleShot(0, bump)
    QTimer.singleShot(50, app.quit)
    app.exec()
    assert len(seen) == 20_000 and count[0] == 5_000, (len(seen), count[0])
    print("ok")
    """
)


def test_signals_and_set_text_many_times_do_not_crash_the_interpreter():
    proc = subprocess.run([sys.executable, "-c", STRESS], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.strip() == "ok"


def test_qt_sees_at_least_one_font_family(qapp):
    from PySide6.QtGui import QFontDatabase

    families = QFontDatabase.families()
    assert families, "Qt sees no font: install fonts-dejavu-core (every glyph would be a box)"
