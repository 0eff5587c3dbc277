//! The wasm binding of synodos (being built).
