"""The registrar: eligibility from the JPKI signature certificate, and blind token issuance.

The only component that sees who votes. It never sees, stores or logs a token: it signs a
blinded value and forgets it. See docs/registrar.md.
"""
