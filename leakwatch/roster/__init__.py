"""The roster: reading staff files (plaintext, in memory only) and enrolling them as keyed hashes."""
