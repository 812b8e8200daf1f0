"""The patient's own API: one call for the tablet's home screen."""
