"""Intake as cities actually send (issue 18): the mailbox, saved e-mails and archives.

- :mod:`.imap` -- ``sdbatch fetch``: spreadsheet attachments of new messages into the inbox, file
  time = the message's date, the original kept beside the inbox, each message recorded once
  (:mod:`.store`, a table of the ledger); settings in ``config/mailbox.toml`` (:mod:`.config`);
- :mod:`.messages` -- ``.eml`` (stdlib ``email``) and Outlook ``.msg`` (``extract-msg``);
- :mod:`.archives` -- ``.zip`` / ``.7z`` / ``.rar`` under the preflight's limits;
- :mod:`.containers` -- the batch's one hook after the inbox scan (:func:`expand`): each container
  becomes its spreadsheet members, each member a FileRecord with its provenance
  (:class:`sdbatch.model.Provenance`), received at its message's date;
- :mod:`.senders` -- the sender as evidence of the city (:func:`attribute_senders`);
- :mod:`.replies` -- a city's draft answers its last message (:func:`add_reply_headers`);
- :mod:`.origin` -- China-time dates and the one-line description of a provenance.

This package's ``__init__`` imports nothing: the ledger imports :mod:`.store` for its migration.
"""
