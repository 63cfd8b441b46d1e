//! The `lxpack` command line.

fn main() {}
