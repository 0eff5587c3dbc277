//! The c binding of synodos (being built).
