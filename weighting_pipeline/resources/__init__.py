"""I/O: DynamoDB access, the ledger reader, the weights table and IO managers."""
