"""ros_nodes package."""
