"""API keys: creation, listing, revocation, rotation and their audit trail."""
