//! hz3-pageq
