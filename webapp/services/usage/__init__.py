"""Usage: reading the usage records back — the dashboard's totals, series and breakdowns
(``dashboard``) over the filters and the viewer's scope (``filters``), the daily rollups
that make them fast and the catch-up that keeps them exact (``rollups``), the record list
and its exports (``records``, ``export``), a member's own usage page (``member``), the
pricing page (``pricing``) and retention (``retention``).

Writing records is metering's job (services/llm/metering.py), not this package's.
"""
