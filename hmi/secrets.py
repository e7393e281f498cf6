"""Passwords the HMI needs (database, PLCs, brokers): in the OS keyring, or in an environment variable.

Where a secret lives
    The OS keyring (Windows Credential Manager, macOS Keychain, the Secret Service on Linux desktops),
    service ``hmi``, user name = the secret's name. ``hmi secret set NAME`` stores one there.

Where there is no keyring (a headless Linux server: keyring's ``NoKeyringError``)
    The environment variable ``HMI_SECRET_<NAME>``: the name upper-cased, every character that is
    not a letter or a digit turned into ``_`` (``database`` -> ``HMI_SECRET_DATABASE``,
    ``opcua.plc1`` -> ``HMI_SECRET_OPCUA_PLC1``, ``mqtt.site-a`` -> ``HMI_SECRET_MQTT_SITE_A``).
    Set it in the service unit (``Environment=`` / ``EnvironmentFile=`` readable by root only).

Precedence
    The environment variable wins over the keyring, so a service unit or a container can inject a
    secret without touching the keyring of the account it runs under.

Names (lower case, ``[a-z0-9][a-z0-9._-]*``)
    ``database``            the password of the database user in ``[database] url`` (PostgreSQL)
    ``opcua.<endpoint>``    the password of ``username`` of the endpoint named <endpoint>
    ``mqtt.<host>``         the password of ``[mqtt] username`` on the broker at <host> (its URL's host, lower case)

A value is never logged, printed or written to a file by this module; only where it was found.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

log = logging.getLogger(__name__)

SERVICE = "hmi"
ENV_PREFIX = "HMI_SECRET_"
DATABASE_SECRET = "database"
SMTP_SECRET = "smtp"  # the password of [alarms.mail] username
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")

_frozen_backend_checked = False


class SecretError(Exception):
    """A secret cannot be read, stored or deleted; the one-line message says what to do."""


class SecretMissing(SecretError):
    """A secret is in neither the environment nor the keyring; the message names the command that sets it."""


class NoKeyringBackend(SecretError):
    """This machine has no keyring backend; the message names the environment variable to use instead."""


def opcua_secret(endpoint: str) -> str:
    """The secret name of the password of an OPC UA endpoint's user."""
    return f"opcua.{endpoint}"


def mqtt_secret(host: str) -> str:
    """The secret name of the password of the MQTT broker's user: ``mqtt.<host>`` (the host in lower case)."""
    return f"mqtt.{host.lower()}"


def check_name(name: str) -> str:
    """The name if it is a valid secret name; SecretError otherwise."""
    if not NAME_PATTERN.match(name):
        raise SecretError(
            f"{name!r} is not a secret name: use lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (e.g. database, opcua.plc1)"
        )
    return name


def env_var(name: str) -> str:
    """The environment variable that can hold this secret: ``opcua.plc1`` -> ``HMI_SECRET_OPCUA_PLC1``."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


def _keyring() -> Any:
    """The keyring module, with the platform backend named explicitly inside a frozen bundle."""
    import keyring

    select_frozen_backend()
    return keyring


def select_frozen_backend() -> None:
    """Inside a PyInstaller bundle, name the platform's keyring backend explicitly.

    keyring finds its backends through package entry points, which a frozen bundle may lack; the
    backends are imported by module path (not by string) so PyInstaller bundles them. An operator's
    ``PYTHON_KEYRING_BACKEND`` still wins. Without a viable backend keyring's own choice stays
    (the fail backend), and the environment variables are the way.
    """
    global _frozen_backend_checked
    if _frozen_backend_checked or not getattr(sys, "frozen", False) or os.environ.get("PYTHON_KEYRING_BACKEND"):
        return
    _frozen_backend_checked = True
    import keyring

    try:
        if sys.platform == "win32":
            from keyring.backends import Windows

            backend_class: Any = Windows.WinVaultKeyring
        elif sys.platform == "darwin":
            from keyring.backends import macOS

            backend_class = macOS.Keyring
        else:
            from keyring.backends import SecretService

            backend_class = SecretService.Keyring
        if backend_class.viable:
            keyring.set_keyring(backend_class())
    except Exception as exc:  # an import or probe failure: keep keyring's own choice
        log.debug("keyring: no platform backend in the bundle: %s", exc)


def backend_name() -> str | None:
    """The keyring backend in use (e.g. ``SecretService Keyring``), or None when the machine has none."""
    from keyring.backends import fail

    backend = _keyring().get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    return getattr(backend, "name", type(backend).__name__)


def _no_backend(name: str, action: str) -> NoKeyringBackend:
    if action == "delete":
        way = f"a value in the environment variable {env_var(name)} is removed where it is set"
    else:
        way = f"set the environment variable {env_var(name)} instead (e.g. in the service unit)"
    return NoKeyringBackend(f"cannot {action} secret {name!r}: this machine has no keyring backend (NoKeyringError); {way}")


def ensure_keyring(name: str, action: str = "store") -> None:
    """NoKeyringBackend naming the environment variable for this secret when the machine has no keyring."""
    check_name(name)
    if backend_name() is None:
        raise _no_backend(name, action)


def _from_keyring(name: str) -> str | None:
    """The value in the keyring, or None; NoKeyringBackend or SecretError when the keyring cannot be read."""
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return _keyring().get_password(SERVICE, name)
    except NoKeyringError:
        raise _no_backend(name, "read") from None
    except KeyringError as exc:
        raise SecretError(f"cannot read secret {name!r} from the keyring: {exc}; "
                          f"unlock the keyring or set {env_var(name)}") from None


def locate_secret(name: str) -> tuple[str | None, str]:
    """The value and where it was found: ``env HMI_SECRET_X``, ``keyring``, or ``missing`` (value None)."""
    check_name(name)
    var = env_var(name)
    value = os.environ.get(var)
    if value:
        return value, f"env {var}"
    try:
        value = _from_keyring(name)
    except NoKeyringBackend:
        return None, "missing (no keyring backend)"
    return (value, "keyring") if value else (None, "missing")


def find_secret(name: str) -> str | None:
    """The secret, or None where it is set nowhere (or the keyring cannot be read: logged)."""
    try:
        value, where = locate_secret(name)
    except SecretError as exc:
        log.warning("%s", exc)
        return None
    log.debug("secret %s: %s", name, where)
    return value


def get_secret(name: str) -> str:
    """The secret from ``HMI_SECRET_<NAME>`` or else the keyring; SecretMissing says how to set it."""
    value, where = locate_secret(name)
    log.debug("secret %s: %s", name, where)
    if value is not None:
        return value
    if where == "missing (no keyring backend)":
        raise SecretMissing(
            f"secret {name!r} is not set and this machine has no keyring backend: "
            f"set the environment variable {env_var(name)}"
        )
    raise SecretMissing(f"secret {name!r} is not set: run `hmi secret set {name}`, or set the environment variable {env_var(name)}")


def set_secret(name: str, value: str) -> str:
    """Store the secret in the keyring; returns the backend's name. NoKeyringBackend names the env var."""
    from keyring.errors import KeyringError, NoKeyringError

    check_name(name)
    if not value:
        raise SecretError(f"empty value for secret {name!r}")
    keyring = _keyring()
    try:
        keyring.set_password(SERVICE, name, value)
        kept = keyring.get_password(SERVICE, name) == value
    except NoKeyringError:
        raise _no_backend(name, "store") from None
    except KeyringError as exc:
        raise SecretError(f"cannot store secret {name!r} in the keyring: {exc}; "
                          f"unlock the keyring or set {env_var(name)}") from None
    backend = backend_name() or "?"
    if not kept:
        raise SecretError(f"the keyring backend {backend} did not keep secret {name!r}; set {env_var(name)} instead")
    log.info("secret %s stored in the keyring (%s)", name, backend)
    return backend


def delete_secret(name: str) -> None:
    """Remove the secret from the keyring; SecretMissing when it is not there."""
    from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

    check_name(name)
    keyring = _keyring()
    try:
        if keyring.get_password(SERVICE, name) is None:
            raise SecretMissing(f"secret {name!r} is not in the keyring")
        keyring.delete_password(SERVICE, name)
    except NoKeyringError:
        raise _no_backend(name, "delete") from None
    except PasswordDeleteError as exc:
        raise SecretMissing(f"secret {name!r} is not in the keyring: {exc}") from None
    except KeyringError as exc:
        raise SecretError(f"cannot delete secret {name!r} from the keyring: {exc}") from None
    log.info("secret %s deleted from the keyring", name)
