"""The application: the command line, the text and voice channels, the session loop, the resident listener,
the user service and transcripts. It wires the core to the speech adapters and the model store.
"""
