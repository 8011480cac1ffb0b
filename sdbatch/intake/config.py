"""The mailbox settings of ``sdbatch fetch`` (``config/mailbox.toml``), checked strictly.

    settings = load_settings(path)     # -> MailboxSettings, or FileInvalid (Chinese problems with places)

Read like every hand-edited file of sdbatch (:mod:`sdbatch.tomlschema`): unknown keys, wrong types
and values out of range are problems named with their place; nothing is coerced.  The password is
never in the file: ``password_env`` names the environment variable that holds it.  TLS is the
default (``security = "ssl"``, port 993); ``starttls`` (port 143) upgrades a plain connection;
``none`` sends the password unencrypted and is accepted only for a server on this machine.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationError

from sdbatch import settings
from sdbatch.catalogue import text
from sdbatch.tomlschema import FileInvalid, Strict, problems_of, render_all, root_of, syntax_message

Word = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[^\r\n]*$")]
LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_SETTINGS_BYTES = 64 * 1024


class MailboxSettings(Strict):
    """The department's mailbox, as ``config/mailbox.toml`` says it."""

    host: Word
    """IMAP server name, e.g. imap.example.gov.cn"""
    account: Word
    """login name of the department's mailbox"""
    password_env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")] = "SDBATCH_MAIL_PASSWORD"
    """name of the environment variable holding the password"""
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    """default: 993 with ssl, 143 with starttls or none"""
    security: Literal["ssl", "starttls", "none"] = "ssl"
    folder: Word = "INBOX"
    """the mailbox folder cities send to"""
    archive: Word = settings.MAILBOX_ARCHIVE
    """where original messages are kept: relative to the inbox's parent folder, or absolute"""
    ca_file: Word | None = None
    """a CA certificate (PEM) for a server whose certificate a private CA signed, relative to this file"""
    timeout: Annotated[float, Field(gt=0, le=600)] = settings.IMAP_TIMEOUT_S
    max_message_mb: Annotated[int, Field(ge=1, le=1024)] = settings.MAX_MESSAGE_BYTES // (1024 * 1024)

    def effective_port(self) -> int:
        return self.port or (993 if self.security == "ssl" else 143)


ROOT = root_of(MailboxSettings)


class Loaded:
    """Settings as read, with the file they came from (relative paths are resolved against it)."""

    def __init__(self, values: MailboxSettings, path: Path) -> None:
        self.values = values
        self.path = path

    def ca_path(self) -> Path | None:
        if self.values.ca_file is None:
            return None
        ca = Path(self.values.ca_file)
        return ca if ca.is_absolute() else self.path.parent / ca

    def archive_dir(self, inbox: Path) -> Path:
        archive = Path(self.values.archive)
        return archive if archive.is_absolute() else Path(inbox).resolve().parent / archive

    def password(self) -> str:
        value = os.environ.get(self.values.password_env)
        if not value:
            raise FileInvalid([text("intake.settings.no_password", env=self.values.password_env)], str(self.path))
        return value


def default_path(inbox: Path | None = None) -> Path:
    """``config/mailbox.toml`` in the working folder, else beside the inbox (like the address book)."""
    here = Path(settings.MAILBOX_SETTINGS)
    if inbox is None or here.exists():
        return here
    beside = Path(inbox).resolve().parent / settings.MAILBOX_SETTINGS
    return beside if beside.exists() else here


def load_settings(path: Path) -> Loaded:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            raise FileInvalid([text("intake.settings.too_big")], str(path))
        raw = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise FileInvalid([text("intake.settings.missing")], str(path)) from None
    except IsADirectoryError:
        raise FileInvalid([text("intake.settings.is_folder")], str(path)) from None
    except OSError as exc:
        raise FileInvalid([text("intake.settings.unreadable", detail=exc.strerror or exc)], str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FileInvalid([syntax_message(exc)], str(path)) from None
    try:
        values = MailboxSettings.model_validate(raw)
    except ValidationError as exc:
        raise FileInvalid(render_all(problems_of(exc, ROOT), raw, ROOT), str(path)) from None
    if values.security == "none" and values.host not in LOOPBACK:
        raise FileInvalid([text("intake.settings.plain_not_local", host=values.host)], str(path))
    loaded = Loaded(values, path)
    ca = loaded.ca_path()
    if ca is not None and not ca.is_file():
        raise FileInvalid([text("intake.settings.ca_missing", path=str(ca))], str(path))
    return loaded
