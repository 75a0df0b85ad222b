//! The policy of an allocator instance (snmalloc's `Config`, in Rust): everything that tells
//! one monomorphised hz3 from another, bundled as associated types and constants.
//!
//! | item | what | comes from |
//! |---|---|---|
//! | [`Policy::Remote`] | the remote-free protocol | the strategy `R` ([`RemoteFree`]) |
//! | [`Policy::Flavour`] | statistics, checks | the flavour `C` ([`Config`]) |
//! | [`Policy::Os`] | where memory comes from | the flavour's [`Config::Os`] |
//! | [`Policy::CACHE_FOREIGN`] | the thread cache's foreign-cache rule | the strategy's [`RemoteFree::CACHE_FOREIGN`] |
//!
//! The public types stay `Heap<R, C>`, `Instance<R, C>` and hz3-alloc's `Hz3<R, C>`: the
//! policy of the pairing is `(R, C)`, through the blanket implementation below, and the
//! thread cache reads the OS layer and the foreign-cache rule only from it ([`OsOf`],
//! `Heap::CACHE_FOREIGN`, `Instance::CACHE_FOREIGN`).

use crate::config::Config;
use hz3_page::OsMemory;
use hz3_pageq::RemoteFree;

/// The policy of an allocator instance.
pub trait Policy: 'static {
    /// The remote-free protocol.
    type Remote: RemoteFree;
    /// Statistics and checks.
    type Flavour: Config;
    /// The OS layer: segments, heaps and large blocks are mapped through it.
    type Os: OsMemory;
    /// The foreign-cache rule: when true, a thread that holds a heap keeps blocks it frees for
    /// other owners in its own bins (H2) and sends them home (through [`Policy::Remote`]) only
    /// when a bin overflows, in a homecoming pass or at thread exit; its sized free pushes onto
    /// the bin without reading the block's metadata, and its unsized free (the C `free`) keeps
    /// a foreign block only of a class of whole cache lines (hz3-page SC6).
    const CACHE_FOREIGN: bool;
}

impl<R: RemoteFree, C: Config> Policy for (R, C) {
    type Remote = R;
    type Flavour = C;
    type Os = C::Os;
    const CACHE_FOREIGN: bool = R::CACHE_FOREIGN;
}

/// The OS layer of the pairing `(R, C)`.
pub type OsOf<R, C> = <(R, C) as Policy>::Os;
