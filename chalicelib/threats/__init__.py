"""The threat feed: report, read, list and resolve threats."""
