"""The model store: where the pinned Vosk model lives, how it is verified and provisioned, and its vocabulary.

Rule: may use the core, never `assistant.app`; checked by tests/test_architecture.py.
"""
