"""Data access: query functions (session in, DataFrame or dataclass out), cache, live state."""
