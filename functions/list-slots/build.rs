//! Links this function as a position-dependent executable (`-no-pie`): the loader then has no
//! relocations to apply at start, which saves about 1 MB of binary and over 1 ms of every cold
//! start's CPU (measured in docs/performance.md). Only the executable's own load address stops
//! being random; the stack, heap and shared libraries still are.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
