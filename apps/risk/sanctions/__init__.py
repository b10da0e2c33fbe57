"""Sanctions screening: the OFAC SDN list loaded into tables (loader), name normalisation,
an in-process candidate index over the active list version, scoring (matcher) and the
screening services behind ``apps.risk.facade.screen_name`` and the merchants hook."""
