"""Domain events and the outbox that records them with the change they describe."""
