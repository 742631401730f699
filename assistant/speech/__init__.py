"""Speech in and out: audio files and devices, noise suppression, end of speech, the recognizer, the speaker,
echo cancellation, barge-in and the wake phrase.

Rule: may use the core and the model store, never `assistant.app`; checked by tests/test_architecture.py. Private files
(`assistant.privatefile`) and errors are shared by every layer.
"""
