"""The README's screenshots of the Downtime and OEE panes, on the fake plant of tests/oee_fake.py.

    PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen python -m tests.oee_screenshots docs
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

from hmi.app import qapplication
from hmi.ui import theme
from hmi.ui.panes.downtime import DowntimePane
from hmi.ui.panes.oee import OeePane
from tests.oee_fake import NOW, plant
from tests.orders_panes_support import PIA, context, until

SIZE = (1600, 900)


def main(folder: str = "docs") -> int:
    import qasync

    from hmi.domain.session import SessionUser

    app = qapplication()
    theme.apply(app, "day")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    sam = SessionUser("sam", "shift_supervisor")
    for name, make in (("downtime.png", lambda f: DowntimePane(context(sam), f, clock=lambda: NOW)),
                       ("oee.png", lambda f: OeePane(context(PIA), f, clock=lambda: NOW))):  # fmt: skip
        fake = plant()
        if name == "oee.png":  # one factor on target, so both looks are on screen
            fake.rows[-3] = dataclasses.replace(fake.rows[-3], quality=0.9931, oee=0.8612 * 0.875 * 0.9931)
        pane = make(fake)
        pane.resize(*SIZE)
        pane.show()
        until(loop, lambda: pane.loads >= 1, f"the first read of {name}")
        if isinstance(pane, DowntimePane):
            pane.select(4)
        app.processEvents()
        pane.grab().save(str(out / name))
        print(f"saved {out / name}")
        pane.close()
        pane.deleteLater()
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
