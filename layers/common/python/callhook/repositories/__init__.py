"""Data access: one small module per table family; ClientError is translated into callhook.errors here."""
