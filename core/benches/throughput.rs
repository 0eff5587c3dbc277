//! Throughput benchmarks (filled in below).
fn main() {}
