"""The breach register (GDPR Art. 33-34): every incident documented, the 72-hour clock."""
