// Placeholder: the record-file decoder (Docs/ProfileFormat.md) lands here.
