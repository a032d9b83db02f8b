"""Local-only tooling for hrsync: simulated vendor systems, the local stack and demo data. Never deployed."""
