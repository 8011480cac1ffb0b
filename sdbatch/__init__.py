"""sdbatch: batch review of Shandong digital-industry application workbooks."""

__version__ = "0.1.0"
