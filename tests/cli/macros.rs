//! `cases!`: one `#[test]` per case instead of a loop over cases in one test, so each
//! case passes or fails on its own (a loop stops at its first failure and hides the
//! rest), as ripgrep's `rgtest!` stamps one test per engine.

/// `cases!(group, check, { name: (args…), … })` writes a module `group` with one
/// `#[test] fn name() { check(args…) }` per case. The module sees its parent's items,
/// so `cargo test --test cli MODULE::group::` runs every case of the group.
macro_rules! cases {
    ($group:ident, $check:ident, { $($case:ident: ($($arg:expr),* $(,)?)),+ $(,)? }) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    $check($($arg),*)
                }
            )+
        }
    };
}
