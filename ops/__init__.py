"""Operator commands for deployed stages (run with the operator's credentials)."""
