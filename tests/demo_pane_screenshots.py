"""The README's pictures of the Downtime and OEE panes, on the demo's database through the real services.

Run the demo a while first (its machine stops and orders fill the database), then, with the demo closed:

    QT_QPA_PLATFORM=offscreen python -m tests.demo_pane_screenshots docs
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hmi.app import qapplication
from hmi.commands.demo import without_breaks
from hmi.config import load_config
from hmi.domain.session import Session
from hmi.domain.tag_bus import TagBus
from hmi.paths import data_dir
from hmi.services.commands import CommandService
from hmi.services.db import make_engine
from hmi.ui import theme
from hmi.ui.context import AppContext
from hmi.ui.oee_source import ServiceOeeSource
from hmi.ui.panes.downtime import DowntimePane
from hmi.ui.panes.oee import OeePane
from tests.orders_panes_support import until

SIZE = (1600, 900)


def main(folder: str = "docs") -> int:
    import qasync

    app = qapplication()
    theme.apply(app, "day")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    config = without_breaks(load_config())
    engine = make_engine(f"sqlite:///{data_dir() / 'demo.sqlite'}")
    session = Session("demo-screenshots")
    ctx = AppContext(config.plant(), TagBus(), "sqlite://", session=session,
                     commands=CommandService(engine, session.actor, "demo-screenshots"))  # fmt: skip
    out = Path(folder)
    for name, make in (("downtime.png", DowntimePane), ("oee.png", OeePane)):
        pane = make(ctx, ServiceOeeSource(ctx, config))
        pane.resize(*SIZE)
        pane.show()
        until(loop, lambda: pane.loads >= 1, f"the first read of {name}")
        app.processEvents()
        pane.grab().save(str(out / name))
        print(f"saved {out / name}")
        pane.close()
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
