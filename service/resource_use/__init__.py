"""Resource use and benefit evaluation: every minute of follow-up, and what it gives."""
