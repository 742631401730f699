"""`python -m assistant` runs the same command line as `tingle`."""

from assistant.app.cli import main

raise SystemExit(main())
