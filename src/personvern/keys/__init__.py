"""Work on subject and master keys that spans features: shredding a subject's key on
erasure (with the mail it leaves behind) and rotating the master key."""
