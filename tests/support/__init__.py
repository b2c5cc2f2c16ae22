"""Test support: real servers (PostgreSQL, SMTP) and a form-filling browser for the test client."""
