"""shopfloor_sim package."""
