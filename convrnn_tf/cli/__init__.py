"""Command-line binaries (flags live only here); `bin/` holds thin wrappers around them."""
