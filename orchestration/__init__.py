"""The code location: definitions (the list of what exists), jobs, schedules and sensors."""
