"""The alarm center started while its database is away: alarms work at once, the journal's state is restored when it is back."""

from __future__ import annotations

import asyncio
import os

from hmi.domain.alarm_engine import AlarmState
from hmi.services.alarm_center import AlarmCenter
from hmi.domain.session import SessionUser
from hmi.services.alarm_commands import AlarmCommand
from tests.test_alarm_center import DEFS, state, tv, until


def test_a_center_started_with_the_database_away_restores_the_shelved_alarm_when_it_is_back(engine, db_url):
    path = db_url.removeprefix("sqlite:///")

    async def first():
        a = AlarmCenter(DEFS, engine, "ws-a", sync_every_s=0.05)
        await a.start()
        a.consume([tv(85.0)])
        await a.command(SessionUser("olga", "engineer"), AlarmCommand("shelve", ("reactor.temp.hi",), "calibration", 3600))
        await a.stop()
        engine.dispose()

    async def second():
        os.rename(path, path + ".away")
        b = AlarmCenter(DEFS, engine, "ws-b", sync_every_s=0.05)
        await b.start()  # the database is away: no exception, the alarms run on
        try:
            assert not b.stats().db_ok
            b.consume([tv(95.0)])
            assert state(b, "reactor.temp.hihi") is AlarmState.UNACK
            assert state(b, "reactor.temp.hi") is not AlarmState.SHELVED  # not known yet
            await asyncio.sleep(0.2)
            engine.dispose()
            os.remove(path)  # the empty file SQLite made meanwhile
            os.rename(path + ".away", path)
            await until(lambda: b.stats().db_ok, 5)
            await until(lambda: state(b, "reactor.temp.hi") is AlarmState.SHELVED, 5)
            return b.engine.status("reactor.temp.hi").reason
        finally:
            await b.stop()

    asyncio.run(first())
    assert asyncio.run(second()) == "calibration"
