"""The declaration of every stateful AWS resource, and a provisioner for it."""
