"""plc_sim package."""
