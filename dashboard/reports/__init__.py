"""Managers' reports: executive summary, SLA review and capacity review, as PDF, CSV and XLSX."""
