"""The credential cache shared with the AWS CLI: key, entry format, store and lock."""
