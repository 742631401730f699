"""`python -m assistant` runs the same command line as `tingle`."""

from assistant.cli import main

raise SystemExit(main())
