"""Empty placeholder: doctor lives in dashboard/commands/doctor.py; delete with its pyproject entry."""
