"""Business decisions: plain typed functions over models and repositories."""
