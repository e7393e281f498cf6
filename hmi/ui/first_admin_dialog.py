"""First run: no user in the database yet, so the first administrator is created here and logged in."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLineEdit, QWidget

from hmi.domain.passwords import MAX_BYTES, MIN_LENGTH, PasswordRejected, check_password
from hmi.domain.users import UserInfo
from hmi.ui.login_dialog import BusyDialog

Create = Callable[[str, str], UserInfo]  # (name, password) -> the new admin, logged in; blocking

NOTE = (
    "This database has no users yet. Create the first administrator: they can then add the other "
    f"users (Session > Users…). The password needs at least {MIN_LENGTH} characters, at most {MAX_BYTES} bytes, "
    "two kinds of character (lower case, upper case, digits, symbols), and not the user name."
)


class FirstAdminDialog(BusyDialog):
    """Name, password and the password again; ``create`` makes the admin and logs them in (in an executor)."""

    what = "creating the administrator"
    busy_text = "Creating the administrator…"

    def __init__(self, create: Create, parent: QWidget | None = None, *, cancel_text: str = "View only") -> None:
        super().__init__(parent, "First run: create the administrator", "Create and log in", cancel_text)
        self.setObjectName("first_admin_dialog")
        self._create = create
        self.name_edit = QLineEdit("admin", self)
        self.name_edit.setObjectName("first_admin_name")
        self.name_edit.setMaxLength(64)
        self.password_edit = QLineEdit(self)
        self.password_edit.setObjectName("first_admin_password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat_edit = QLineEdit(self)
        self.repeat_edit.setObjectName("first_admin_repeat")
        self.repeat_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.form.addRow("User name", self.name_edit)
        self.form.addRow("Password", self.password_edit)
        self.form.addRow("Password again", self.repeat_edit)
        self.name_edit.returnPressed.connect(self.password_edit.setFocus)
        self.password_edit.returnPressed.connect(self.repeat_edit.setFocus)
        self.repeat_edit.returnPressed.connect(self.attempt)
        self.set_note(NOTE)
        self.password_edit.setFocus()

    def validate(self) -> tuple[str, QWidget | None]:
        name, password = self.name_edit.text().strip(), self.password_edit.text()
        if not name:
            return "enter a user name", self.name_edit
        try:
            check_password(password, name)  # the service checks again; this answers before bcrypt runs
        except PasswordRejected as rejected:
            return str(rejected), self.password_edit
        if password != self.repeat_edit.text():
            return "the two passwords differ; type the same password twice", self.repeat_edit
        return "", None

    def work(self) -> Callable[[], UserInfo]:
        name, password, create = self.name_edit.text().strip(), self.password_edit.text(), self._create
        return lambda: create(name, password)

    def failed(self) -> None:
        self.password_edit.clear()
        self.repeat_edit.clear()
        self.password_edit.setFocus()

    def inputs(self) -> list[QWidget]:
        return [self.name_edit, self.password_edit, self.repeat_edit]
