"""Everything people read: review workbooks, the province list, e-mail drafts (issue 4).

Writers render a decided :class:`~sdbatch.model.RunResult`; they never recompute a status,
a score or a rank.
"""

from sdbatch.writers.mail import write_mail_drafts
from sdbatch.writers.ranked import write_ranked_list
from sdbatch.writers.review import review_file_name, write_city_reviews

__all__ = [
    "review_file_name",
    "write_city_reviews",
    "write_mail_drafts",
    "write_ranked_list",
]
