"""The payout rail: how the platform sends money to a merchant's bank account."""
