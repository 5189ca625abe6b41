"""The Docker action's entry point: run kalibra-action with the runner's environment."""
from kalibra_action.action import main

raise SystemExit(main())
