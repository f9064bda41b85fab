"""Intake's pure rules: what an acceptable encounter is and how it becomes an event."""
