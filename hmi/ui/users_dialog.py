"""Session > Users…: the users with role, state, failed logins and lock; add, set role, disable/enable, reset password.

Every change goes through ``ctx.command`` (the session user, checked and audited by
hmi.services.user_admin); a refusal or failure is shown in the dialog in words. The buttons are
enabled for whoever may manage users, as a convenience: the service checks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTableView,
    QVBoxLayout, QWidget,
)

from hmi.domain.passwords import PasswordRejected, check_password
from hmi.domain.permissions import Action, PermissionDenied, role_names
from hmi.domain.session import SessionLocked
from hmi.services import user_admin
from hmi.services.commands import CommandService
from hmi.domain.users import UserInfo
from hmi.ui.context import AppContext
from hmi.ui.dialog_tasks import Tasks, open_dialog
from hmi.ui.login_dialog import MessageLine, quiet_button, refusal_text

log = logging.getLogger(__name__)

COLUMNS = ("user", "role", "state", "failed logins", "locked")
Index = QModelIndex | QPersistentModelIndex


def lock_text(user: UserInfo, now: float) -> str:
    """'locked, 25 s left' while the account is locked after failed logins, else ''."""
    if user.locked_until is None or user.locked_until <= now:
        return ""
    return f"locked, {user.locked_until - now:.0f} s left"


class UsersModel(QAbstractTableModel):
    """A thin table adapter over a list of UserInfo (replaced whole on each reload)."""

    def __init__(self, clock: Callable[[], float] = time.time, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._users: list[UserInfo] = []
        self._clock = clock

    def set_users(self, users: Sequence[UserInfo]) -> None:
        """Show ``users`` (the list is small: a reset is simplest)."""
        self.beginResetModel()
        self._users = list(users)
        self.endResetModel()

    def user_at(self, row: int) -> UserInfo:
        return self._users[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self._users)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.UserRole):
            return None
        u = self._users[index.row()]
        column = index.column()
        if column == 0:
            return u.name
        if column == 1:
            return u.role
        if column == 2:
            return "enabled" if u.enabled else "DISABLED"
        if column == 3:
            return u.failed_logins if role == Qt.ItemDataRole.UserRole else str(u.failed_logins)
        return lock_text(u, self._clock())


class PasswordDialog(QDialog):
    """A new user (name, role, password twice) or a new password for one; checked against the policy here first."""

    def __init__(self, parent: QWidget | None, *, user: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("user_password_dialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setWindowTitle(f"New password for {user}" if user else "Add a user")
        self.fixed_name = user
        self.name_edit = QLineEdit(user or "", self)
        self.name_edit.setObjectName("new_user_name")
        self.name_edit.setReadOnly(user is not None)
        self.role_box = QComboBox(self)
        self.role_box.setObjectName("new_user_role")
        self.role_box.addItems(role_names())
        self.role_box.setCurrentText("operator")
        self.password_edit = QLineEdit(self)
        self.password_edit.setObjectName("new_user_password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = QLineEdit(self)
        self.repeat_edit.setObjectName("new_user_repeat")
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = MessageLine(self)
        self.message.setObjectName("user_password_message")
        form = QFormLayout()
        form.addRow("User name", self.name_edit)
        if user is None:
            form.addRow("Role", self.role_box)
        else:
            self.role_box.hide()
        form.addRow("Password", self.password_edit)
        form.addRow("Password again", self.repeat_edit)
        self.ok_button = quiet_button("Add" if user is None else "Set password", self)
        self.ok_button.setObjectName("user_password_ok")
        self.ok_button.clicked.connect(self.try_accept)
        cancel = quiet_button("Cancel", self)
        cancel.clicked.connect(self.reject)
        self.repeat_edit.returnPressed.connect(self.try_accept)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.ok_button)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(self.message)
        box.addLayout(buttons)
        (self.password_edit if user else self.name_edit).setFocus()

    def try_accept(self) -> None:
        """Accept when the form is complete and the password passes the policy; else say why."""
        name, password = self.name_edit.text().strip(), self.password_edit.text()
        if not name:
            self.message.say("enter a user name")
            return
        try:
            check_password(password, name)
        except PasswordRejected as rejected:
            self.message.say(str(rejected))
            return
        if password != self.repeat_edit.text():
            self.message.say("the two passwords differ; type the same password twice")
            return
        self.accept()

    @property
    def values(self) -> tuple[str, str, str]:
        """(name, role, password)."""
        return self.name_edit.text().strip(), self.role_box.currentText(), self.password_edit.text()


class UsersDialog(QDialog):
    """The users of the database and what an admin may do to them."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("users_dialog")
        self.setWindowTitle("Users")
        self.ctx = ctx
        self.tasks = Tasks()
        self.sub_dialog: PasswordDialog | None = None
        self.model = UsersModel(parent=self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView(self)
        self.table.setObjectName("users_table")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.message = MessageLine(self)
        self.message.setObjectName("users_message")
        self.role_box = QComboBox(self)
        self.role_box.setObjectName("users_role")
        self.role_box.addItems(role_names())
        self.add_button = quiet_button("Add user…", self)
        self.role_button = quiet_button("Set role", self)
        self.disable_button = quiet_button("Disable", self)
        self.enable_button = quiet_button("Enable", self)
        self.reset_button = quiet_button("Reset password…", self)
        self.reload_button = quiet_button("Reload", self)
        close = quiet_button("Close", self)
        for button, slot in (
            (self.add_button, self.on_add), (self.role_button, self.on_set_role),
            (self.disable_button, self.on_disable), (self.enable_button, self.on_enable),
            (self.reset_button, self.on_reset), (self.reload_button, self.reload), (close, self.reject),
        ):  # fmt: skip
            button.clicked.connect(slot)
        row = QHBoxLayout()
        for w in (self.add_button, QLabel("Role", self), self.role_box, self.role_button, self.disable_button,
                  self.enable_button, self.reset_button):
            row.addWidget(w)
        row.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.reload_button)
        bottom.addStretch(1)
        bottom.addWidget(close)
        box = QVBoxLayout(self)
        box.addWidget(self.table)
        box.addLayout(row)
        box.addWidget(self.message)
        box.addLayout(bottom)
        self.resize(760, 420)
        ctx.session_changed.connect(self._update_buttons)
        self._update_buttons()

    # --- state -------------------------------------------------------------------------------------

    def selected(self) -> UserInfo | None:
        """The user of the selected row, if any."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.user_at(self.proxy.mapToSource(rows[0]).row())

    def select(self, name: str) -> None:
        """Select the row of ``name`` (after a reload)."""
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data() == name:
                self.table.selectRow(row)
                return

    def names(self) -> list[str]:
        """The user names shown, in table order."""
        return [self.proxy.index(r, 0).data() for r in range(self.proxy.rowCount())]

    def row_of(self, name: str) -> dict[str, str]:
        """One shown row by column title (for tests and the eye)."""
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data() == name:
                return {c: str(self.proxy.index(r, i).data()) for i, c in enumerate(COLUMNS)}
        raise KeyError(name)

    def _selection_changed(self, *args: object) -> None:
        user = self.selected()
        if user is not None:
            self.role_box.setCurrentText(user.role)
        self._update_buttons()

    def _update_buttons(self) -> None:
        may = self.ctx.may(Action.MANAGE_USERS)
        user = self.selected()
        self.add_button.setEnabled(may)
        self.reload_button.setEnabled(may)
        for button in (self.role_button, self.reset_button):
            button.setEnabled(may and user is not None)
        self.disable_button.setEnabled(may and user is not None and user.enabled)
        self.enable_button.setEnabled(may and user is not None and not user.enabled)

    # --- commands ----------------------------------------------------------------------------------

    async def _command(self, call: Callable[[CommandService], Any], done: str = "") -> Any:
        """Run one service call as the session user; a refusal is shown in words, None returned."""
        try:
            result = await self.ctx.command(call)
        except SessionLocked as locked:
            self.message.say(str(locked))
            return None
        except PermissionDenied as denied:
            self.message.say(f"{denied}; this is recorded in the audit trail")
            return None
        except Exception as error:  # UserError, PasswordRejected, AuditUnavailable, DatabaseUnavailable
            self.message.say(refusal_text(error, "the change"))
            return None
        self.message.say(done, bad=False)
        return result

    def reload(self) -> None:
        """Read the users again."""
        self.tasks.spawn(self.reload_now())

    async def reload_now(self, keep_message: bool = False) -> None:
        """Read the users again (await it)."""
        before = self.selected()
        shown = self.message.text()
        users = await self._command(user_admin.list_users)
        if users is None:
            return
        self.model.set_users(users)
        if before is not None:
            self.select(before.name)
        if keep_message and shown:
            self.message.setText(shown)
            self.message.show()
        self._update_buttons()

    async def _change(self, call: Callable[[CommandService], Any], done: str) -> bool:
        if await self._command(call, done) is None:
            return False
        await self.reload_now(keep_message=True)
        return True

    def on_add(self) -> None:
        self.tasks.spawn(self.add_user())

    async def add_user(self) -> bool:
        """Ask for the new user's name, role and password, then add them."""
        values = await self._ask(PasswordDialog(self))
        if values is None:
            return False
        name, role, password = values
        ok = await self._change(lambda c: user_admin.add_user(c, name, role, password), f"user {name} added as {role}")
        if ok:
            self.select(name)
        return ok

    async def _ask(self, dialog: PasswordDialog) -> tuple[str, str, str] | None:
        self.sub_dialog = dialog
        try:
            code = await open_dialog(dialog)
            return dialog.values if code == QDialog.DialogCode.Accepted else None
        finally:
            self.sub_dialog = None
            dialog.deleteLater()

    def on_set_role(self) -> None:
        user, role = self.selected(), self.role_box.currentText()
        if user is not None:
            self.tasks.spawn(self._change(lambda c: user_admin.set_role(c, user.name, role),
                                          f"{user.name} is now {role}"))

    def on_disable(self) -> None:
        user = self.selected()
        if user is not None:
            self.tasks.spawn(self._change(lambda c: user_admin.disable(c, user.name), f"{user.name} disabled"))

    def on_enable(self) -> None:
        user = self.selected()
        if user is not None:
            self.tasks.spawn(self._change(lambda c: user_admin.enable(c, user.name), f"{user.name} enabled"))

    def on_reset(self) -> None:
        user = self.selected()
        if user is not None:
            self.tasks.spawn(self.reset_password(user.name))

    async def reset_password(self, name: str) -> bool:
        """Ask for a new password for ``name`` and set it (clears a lockout)."""
        values = await self._ask(PasswordDialog(self, user=name))
        if values is None:
            return False
        password = values[2]
        return await self._change(lambda c: user_admin.reset_password(c, name, password),
                                  f"new password set for {name}; failed logins and lock cleared")

    def done(self, result: int) -> None:  # noqa: D102 (QDialog)
        self.tasks.cancel()
        super().done(result)
