//! FileLog benchmark (being written).
fn main() {}
