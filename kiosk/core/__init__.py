"""The kiosk's core: no Qt, no widgets. The window, the demo and load tests all drive it."""
