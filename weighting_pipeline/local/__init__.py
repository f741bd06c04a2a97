"""Local running: embedded DynamoDB, table set-up, demo ledger, the printout."""
