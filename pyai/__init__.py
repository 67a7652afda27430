"""pyai: durable conversation memory for AI agents."""
