"""The Swarm layer: overlay networks, node labels, Interlock service clusters, and the app-team API."""
