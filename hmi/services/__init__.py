"""Application services: the commands a user gives, checked, audited and carried out (no Qt)."""
