"""Services: one use case each (backup, restore, checks, cleanup, queries)."""
