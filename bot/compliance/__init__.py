"""Consent, audit chain, retention, ARCO and field encryption (LFPDPPP 2025, NOM-004-SSA3-2012).

Import the submodules you need (``bot.compliance.audit``, ``.consent``, ``.crypto`` ...); this package
only re-exports the clinical canary strings so other tests can prove they never leave the portal.
"""

from bot.compliance.canaries import CANARIES, contains_canary

__all__ = ["CANARIES", "contains_canary"]
