//! What every fuzz target shares: readers take text, so input that is not UTF-8 is
//! the caller's business (the CLI refuses it before any reader runs), except where a
//! reader takes bytes itself.

/// The fuzzer's bytes as text, or `None` when they are not UTF-8.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
