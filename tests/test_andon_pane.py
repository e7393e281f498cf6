"""The andon board over a fake AndonSource: a tile per line with state by colour and word, category, origin,
ticking age, who acknowledged and the escalation tier; cheap polling; steps and their refusals; the tone."""

from __future__ import annotations

from hmi.domain.andon import CallState, Category, Origin
from hmi.domain.permissions import Action, PermissionDenied
from hmi.ui.andon_dialogs import RaiseDialog, ResolveDialog
from hmi.ui.andon_tile import NAME_PT, clock_text
from hmi.ui.panes.andon import AndonPane
from tests.andon_fake import S, T0, FakeAndon, call, taken
from tests.orders_panes_support import OLAF, context, until
from hmi.domain.session import SessionUser

SAM = SessionUser("sam", "shift_supervisor")


class Clock:
    def __init__(self) -> None:
        self.now = T0 / S

    def __call__(self) -> float:
        return self.now


def make(qtbot, loop, fake, user=SAM, clock=None, width=1300):
    played: list[int] = []
    pane = AndonPane(context(user), fake, clock=clock or Clock(), player=played.append)
    pane.played = played
    qtbot.addWidget(pane)
    pane.resize(width, 900)
    pane.show()
    until(loop, lambda: pane.loads >= 1, "the first read")
    return pane


def board_with_calls() -> FakeAndon:
    fake = FakeAndon()
    fake.put(
        call(1, "compressor1", origin=Origin.TRIP, age_s=125, detail="status 0"),
        call(2, "sf1", state=CallState.ACKNOWLEDGED, age_s=400, acked_by="bob", acked_us=T0 - 300 * S, tier=1),
        call(3, "sf2", state=CallState.ACKNOWLEDGED, active=False, category=Category.QUALITY, origin=Origin.MANUAL,
             raised_by="olga", age_s=3725, acked_by="sam", acked_us=T0 - 60 * S, tier=2),
    )
    return fake


def test_a_tile_per_line_says_state_category_origin_age_acker_and_tier(qtbot, qasync_loop):
    pane = make(qtbot, qasync_loop, board_with_calls())
    assert list(pane.tiles) == ["compressor1", "sf1", "sf2"]
    c1, sf1, sf2 = (pane.tiles[k] for k in ("compressor1", "sf1", "sf2"))
    assert c1.text("name") == "Compressor 1"
    assert c1.text("state") == "◆ CALL OPEN" and c1.state_label.property("state") == "open"
    assert c1.text("what") == "MAINTENANCE · trip"
    assert c1.text("age") == "for 2:05"
    assert c1.text("ack") == "not acknowledged"
    assert c1.text("tier") == "escalates to shift supervisor in 2:55"
    assert c1.text("detail") == "status 0"
    assert sf1.text("state") == "▲ ACKNOWLEDGED" and sf1.state_label.property("state") == "acked"
    assert sf1.text("ack").startswith("acknowledged by bob at ")
    assert sf1.text("tier") == "▲ escalated: tier 1 · shift supervisor"
    assert sf2.text("state") == "◷ CLEARED – resolve" and sf2.state_label.property("state") == "cleared"
    assert sf2.text("what") == "QUALITY · raised by olga"
    assert sf2.text("age") == "for 1:02:05"
    assert sf2.text("tier") == "▲ escalated: tier 2 · production manager"
    assert pane.summary.text() == "open 1    acknowledged 1    cleared 1    running 0"
    # the buttons follow the state: acknowledge only an open call
    assert c1.ack_button.isVisible() and c1.ack_button.isEnabled()
    assert not sf1.ack_button.isEnabled() and sf1.ack_button.toolTip().startswith("acknowledged by bob at ")
    assert sf1.resolve_button.isVisible() and sf1.resolve_button.isEnabled()


def test_a_line_without_a_call_is_running_in_calm_grey(qtbot, qasync_loop):
    pane = make(qtbot, qasync_loop, FakeAndon())
    tile = pane.tiles["sf1"]
    assert tile.text("state") == "● RUNNING" and tile.state_label.property("state") == "running"
    assert tile.text("what") == "no open call" and tile.text("age") == ""
    assert not tile.ack_button.isVisible() and not tile.resolve_button.isVisible()
    assert pane.summary.text() == "open 0    acknowledged 0    cleared 0    running 3"


def test_the_age_ticks_without_reading_the_board(qtbot, qasync_loop):
    clock = Clock()
    fake = board_with_calls()
    pane = make(qtbot, qasync_loop, fake, clock=clock)
    reads = fake.board_reads
    clock.now += 60
    pane.tick()
    assert pane.tiles["compressor1"].text("age") == "for 3:05"
    assert pane.tiles["compressor1"].text("tier") == "escalates to shift supervisor in 1:55"
    assert fake.board_reads == reads
    clock.now += 200  # past the tier's time, before the escalation tick has stepped the call
    pane.tick()
    assert pane.tiles["compressor1"].text("tier") == "escalating to shift supervisor"
    assert clock_text(2 * 86_400 + 3 * 3600) == "2 d 03:00"


def test_polling_reads_the_board_only_when_the_version_moved(qtbot, qasync_loop):
    fake = FakeAndon()
    pane = make(qtbot, qasync_loop, fake)
    reads = fake.board_reads
    until(qasync_loop, lambda: fake.version_reads >= 4, "a few polls")
    assert fake.board_reads == reads
    fake.put(call(7, "sf2", age_s=1))
    until(qasync_loop, lambda: pane.tiles["sf2"].state == "open", "the new call on the board")
    assert pane.cues == [7] and pane.played == [2]  # the tone, once
    fake.put(call(7, "sf2", age_s=1, detail="still"))
    until(qasync_loop, lambda: pane.tiles["sf2"].text("detail") == "still", "the change read")
    assert pane.cues == [7]  # a change is not a new call


def test_the_calls_there_at_the_first_read_play_no_tone(qtbot, qasync_loop):
    pane = make(qtbot, qasync_loop, board_with_calls())
    assert pane.cues == [] and pane.played == []


def test_the_grid_reflows_to_the_width(qtbot, qasync_loop):
    fake = FakeAndon()
    pane = make(qtbot, qasync_loop, fake, width=1400)
    assert pane._columns == 3 and pane.scale == 1.0
    pane.resize(500, 1200)
    qtbot.wait(50)
    assert pane._columns == 1


def test_many_lines_get_smaller_fonts_to_fit_the_pane(qtbot, qasync_loop):
    from hmi.domain.andon import LineKind
    from hmi.services.andon import AndonLine

    fake = FakeAndon()
    fake.lines_ = [AndonLine(f"sf{i:02d}", LineKind.SHOPFLOOR, f"sf{i:02d}") for i in range(1, 13)]
    pane = make(qtbot, qasync_loop, fake, width=1600)
    pane.resize(1600, 1000)
    qtbot.wait(50)
    assert pane.scale < 1.0 and pane._columns >= 4
    assert f"QLabel#andonName {{ font-size: {round(NAME_PT * pane.scale)}pt;" in pane.styleSheet()
    pane.resize(1600, 3000)
    qtbot.wait(50)
    assert pane.scale == 1.0


def test_acknowledge_from_the_tile(qtbot, qasync_loop):
    fake = board_with_calls()
    pane = make(qtbot, qasync_loop, fake)
    pane.tiles["compressor1"].ack_button.click()
    until(qasync_loop, lambda: pane.tiles["compressor1"].state == "acked", "acknowledged")
    assert fake.steps[-1] == ("acknowledge", (1, ""))
    assert pane.message.text() == "✔ call 1 on compressor1 acknowledged"


def test_a_refusal_is_shown_as_its_message(qtbot, qasync_loop):
    fake = board_with_calls()
    pane = make(qtbot, qasync_loop, fake)
    fake.refuse = taken(1)
    pane.tiles["compressor1"].ack_button.click()
    until(qasync_loop, lambda: pane.message.property("kind") == "problem", "the refusal")
    assert pane.message.text() == "▲ Not done: call 1 was already acknowledged by bob at 14:03 UTC"
    fake.refuse = PermissionDenied("sam", "shift_supervisor", Action.ACK_ANDON)
    pane.tiles["compressor1"].ack_button.click()
    until(qasync_loop, lambda: "may not" in pane.message.text(), "the permission refusal")
    assert pane.message.text() == "▲ Not done: sam (shift_supervisor) may not ack andon"


def test_resolve_asks_for_a_reason_code_and_a_note(qtbot, qasync_loop):
    fake = board_with_calls()
    pane = make(qtbot, qasync_loop, fake)
    pane.tiles["sf2"].resolve_button.click()
    until(qasync_loop, lambda: isinstance(pane.dialog, ResolveDialog), "the Resolve dialog")
    dialog = pane.dialog
    dialog.ok_button.click()
    assert dialog.error.text() == "✖ Reason: choose why the line stopped"
    dialog.choose("changeover")
    dialog.note.setText("new tool")
    dialog.ok_button.click()
    until(qasync_loop, lambda: pane.dialog is None, "the dialog closed")
    until(qasync_loop, lambda: pane.tiles["sf2"].state == "running", "resolved")
    assert fake.steps[-1] == ("resolve", (3, "changeover", "new tool"))
    assert pane.message.text() == "✔ call 3 on sf2 resolved: changeover"


def test_an_operator_raises_a_call_but_may_not_resolve(qtbot, qasync_loop):
    fake = FakeAndon()
    fake.user = "olaf"
    pane = make(qtbot, qasync_loop, fake, user=OLAF)
    tile = pane.tiles["sf1"]
    tile.raise_button.click()
    until(qasync_loop, lambda: isinstance(pane.dialog, RaiseDialog), "the Raise dialog")
    pane.dialog.choose(Category.MATERIAL)
    pane.dialog.note.setText("no caps")
    pane.dialog.ok_button.click()
    until(qasync_loop, lambda: tile.state == "open", "the call raised")
    assert fake.steps[-1] == ("raise_call", ("sf1", Category.MATERIAL, "no caps"))
    assert tile.text("what") == "MATERIAL · raised by olaf"
    assert not tile.resolve_button.isEnabled()
    assert "(you are olaf, operator)" in tile.resolve_button.toolTip()
    assert tile.ack_button.isEnabled()


def test_a_window_without_a_database_says_so(qtbot, qasync_loop):
    pane = AndonPane(context(SAM))
    qtbot.addWidget(pane)
    pane.show()
    assert not pane.showing_content
    assert "no database" in pane.refusal.text()
