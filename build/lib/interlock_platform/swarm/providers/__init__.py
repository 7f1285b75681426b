"""Dynamic providers that talk to the Docker engine (UCP): Interlock config rotation and node labels."""
