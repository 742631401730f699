"""The pure triage core: content, grammars, validation, the triage rules, the dialogue engine, pacing, readings.

Rule: imports nothing from `assistant.speech`, `assistant.models` or `assistant.app`, and no audio, model or
speech library (vosk, sounddevice, pyttsx3, numpy, pymicro_wakeword, webrtc_noise_gain); checked by
tests/test_architecture.py. One known exception, kept by the mechanical split and listed in that test:
`pacing` imports `Heard` from `assistant.app.session`.
"""
