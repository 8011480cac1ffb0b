"""Across rounds (issue 19): bans, the parks' two-year evaluation, downgrades and upgrades,
year-over-year changes.

The ledger keeps, for every program round, each application's outcome (status, tier, subsidy,
received date, the applicant's 统一社会信用代码 and name, the declared values; table
``round_outcomes``, written from the run's published documents: :mod:`sdbatch.history.facts`) and
the decisions staff record (table ``decisions``, also appended to a journal file beside the ledger:
:mod:`sdbatch.history.journal`).  The rules file of a round says what follows, in ``[history]``.

Modules:

- :mod:`~sdbatch.history.model` — records, decisions, bans, a park's standing, an application's block;
- :mod:`~sdbatch.history.book` — what the ledger holds, loaded once per run: the same applicant in
  another round by its credit code (its name as a fallback), standings and bans;
- :mod:`~sdbatch.history.stage` — the shared stage the batch's decision step calls
  (:func:`~sdbatch.history.stage.apply`): findings on the applications (a ban in force, only the
  name matched, a figure that jumped, an upgrade application) and the department's sheets (bans in
  force, evaluations due, proposals of downgrade or revocation);
- :mod:`~sdbatch.history.decisions` — recording what staff decide (``sdbatch decide``);
- :mod:`~sdbatch.history.show` — ``sdbatch history``: one applicant's rounds, decisions and bans.

A program's own part (a park's tier against the tier it holds) goes through its Program
(:meth:`~sdbatch.programs.base.Program.history_facts`, the park program's upgrade settlement).
"""
