"""Care plans: the patient's protocol and personal thresholds, versioned, never rewritten."""
