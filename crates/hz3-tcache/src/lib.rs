//! hz3-tcache
