"""The simulator: deterministic, realistic demo and scale data, bulk-loaded with COPY."""
