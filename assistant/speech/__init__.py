"""Speech in and out: audio files and devices, noise suppression, end of speech, the recognizer, the speaker,
echo cancellation, barge-in and the wake phrase.

Rule: may use the core and the model store, never `assistant.app`; checked by tests/test_architecture.py. One known
exception, kept by the mechanical split and listed in that test: `speaker` imports `open_private` from
`assistant.app.privatefile` (the WAV output is health data, written like the transcript).
"""
