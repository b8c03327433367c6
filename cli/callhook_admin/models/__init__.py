"""See callhook_admin."""
