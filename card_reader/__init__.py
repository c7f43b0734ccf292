"""The My Number card's JPKI applet: clients over PC/SC and PKCS#11, certificate parsing, a
virtual card served through a real PC/SC stack, and test-PKI tooling.

Facts about the card: ``docs/card_reader.md``.
"""
