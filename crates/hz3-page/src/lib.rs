//! hz3-page
