//! The python binding of synodos (being built).
