"""Planned contacts: when the centre will next call, video-call or visit a patient, so the
patient's tablet can say "we call you Tuesday at 10" and the nurse sees what is booked."""
