//! A crash-safe log in files (being built).
