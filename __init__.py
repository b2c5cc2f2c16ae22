"""Bürgerkonto: one citizen account for every portal of a municipal network.

The repository root is this package; its parts are `idp` (accounts, sign-in,
OpenID Connect), `trust_levels`, `federation` and `mailbox` (the postbox).
"""
