"""Staff users of the dashboard: accounts, argon2 passwords, roles and what each may do."""
