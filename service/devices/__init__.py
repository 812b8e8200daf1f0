"""Measuring devices and gateways lent to patients."""
