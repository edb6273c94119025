"""Analytics and stats read from counters maintained on write."""
