//! The network benchmark (written next).
fn main() {}
