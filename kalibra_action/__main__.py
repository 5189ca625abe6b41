"""`python -m kalibra_action` runs the CLI."""

from kalibra_action.cli import main

raise SystemExit(main())
