"""The pure triage core: content, grammars, validation, the triage rules, the dialogue engine, the channel
contract, pacing and readings.

Rule: imports nothing from `assistant.speech`, `assistant.models` or `assistant.app`, and no audio, model or
speech library (vosk, sounddevice, pyttsx3, numpy, pymicro_wakeword, webrtc_noise_gain); checked by
tests/test_architecture.py.
"""
