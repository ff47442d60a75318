//! Column family names: the only place they are spelled.
//!
//! | family | key ([`crate::keys`]) | value ([`crate::record`]) |
//! |---|---|---|
//! | [`CF_MESSAGES`] | queue prefix ‖ `255 - priority` ‖ seq (u64 BE) | encoded message record |
//! | [`CF_DESTINATIONS`] | destination name (UTF-8 bytes) | encoded destination record |
//! | [`CF_QUEUE_LENS`] | queue name (UTF-8 bytes) | message count, u64 BE; absent = 0 |
//! | [`CF_META`] | a `META_*` key | store-wide metadata: format version (u32 BE), seq mark (u64 BE) |

/// Every stored message, in dispatch order within each queue.
pub(crate) const CF_MESSAGES: &str = "messages";
/// One entry per destination recorded with `PutDestination`; iteration order is name order.
pub(crate) const CF_DESTINATIONS: &str = "destinations";
/// Message count per non-empty queue, kept in the same write batch as the messages it counts.
pub(crate) const CF_QUEUE_LENS: &str = "queue_lens";
/// Store-wide metadata.
pub(crate) const CF_META: &str = "meta";

/// Every column family the store opens (and creates when missing). RocksDB's implicit
/// `default` family exists too but holds nothing.
pub(crate) const ALL_CFS: &[&str] = &[CF_MESSAGES, CF_DESTINATIONS, CF_QUEUE_LENS, CF_META];
