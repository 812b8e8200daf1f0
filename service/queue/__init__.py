"""The triage queue: findings from ``alerts/`` gathered into one item per patient."""
