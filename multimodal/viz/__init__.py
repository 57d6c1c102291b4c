"""Pictures of logs and of what encoders learned."""
