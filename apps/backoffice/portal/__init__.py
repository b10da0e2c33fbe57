"""The merchant portal's business pages (dashboard, payments, balances, reports, developers).

They live in the backoffice app because they show data of every lower app (payments, ledger,
merchants) and backoffice is the only layer allowed to read all of their facades; see
docs/architecture/0011-merchant-portal-pages-in-backoffice.md.
"""
