//! Store-wide metadata in [`CF_META`]: the on-disk format version and the seq high-water
//! mark, checked (and for a new or older store written) once at open.
//!
//! # The seq high-water mark ([`keys::META_MAX_SEQ`])
//!
//! The highest seq any `PutMessage` ever wrote, 0 before the first. `apply` raises it in the
//! same `WriteBatch` as the put that exceeds it and never lowers it (deletes leave it alone),
//! so on disk it is always at least every stored message's seq, also across a crash. That
//! makes [`broker_store::Store::max_seq`] one cached value, and lets a put whose seq is above
//! the mark skip asking whether its key exists: it cannot (see [`crate::batch`]). Under
//! [`crate::SyncPolicy::Periodic`] a machine crash may lose the last batches, and with them
//! their raises of the mark, so the seqs of messages lost that way may be handed out again.
//!
//! # Format versions
//!
//! - 1: no seq mark.
//! - 2: the seq mark is present. Opening a version 1 store computes the mark with one scan
//!   of the message keys that skips over long runs of one queue and priority, and writes it
//!   together with the new version in one synced batch; a crash before that batch leaves
//!   version 1, upgraded again at the next open. A build that reads version 1 only refuses a
//!   version 2 store, since it would write seqs without raising the mark.

use broker_store::StoreError;
use rocksdb::{WriteBatch, WriteOptions, DB};

use crate::cf::{CF_MESSAGES, CF_META};
use crate::{backend, cf_handle, keys, record};

/// Version of the on-disk layout this build writes, kept in [`CF_META`].
pub(crate) const FORMAT_VERSION: u32 = 2;
/// The older version this build upgrades at open.
const FORMAT_VERSION_WITHOUT_MARK: u32 = 1;

/// Checks (or, for a new database, records) the format version, upgrading a version 1 store,
/// and returns the seq high-water mark.
pub(crate) fn open(db: &DB) -> Result<u64, StoreError> {
    let meta = cf_handle(db, CF_META)?;
    let stored = db
        .get_cf(meta, keys::META_FORMAT_VERSION)
        .map_err(backend("read format version"))?;
    let version = match stored {
        None => None,
        Some(v) => Some(
            <[u8; 4]>::try_from(v.as_slice())
                .map(u32::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    what: "format version",
                    detail: format!("expected 4 bytes, found {v:02x?}"),
                })?,
        ),
    };
    match version {
        // A new database: nothing to scan.
        None => write_version_and_mark(db, 0).map(|()| 0),
        Some(FORMAT_VERSION) => read_max_seq(db),
        Some(FORMAT_VERSION_WITHOUT_MARK) => {
            let mark = scan_max_seq(db)?;
            write_version_and_mark(db, mark)?;
            Ok(mark)
        }
        Some(v) => Err(StoreError::Corrupt {
            what: "format version",
            detail: format!("database has format version {v}; this build reads {FORMAT_VERSION}"),
        }),
    }
}

/// The seq high-water mark as the database holds it.
pub(crate) fn read_max_seq(db: &DB) -> Result<u64, StoreError> {
    let value = db
        .get_pinned_cf(cf_handle(db, CF_META)?, keys::META_MAX_SEQ)
        .map_err(backend("read max seq"))?
        .ok_or_else(|| StoreError::Corrupt {
            what: "max seq",
            detail: format!("missing in a format version {FORMAT_VERSION} store"),
        })?;
    record::decode_max_seq(&value)
}

fn write_version_and_mark(db: &DB, mark: u64) -> Result<(), StoreError> {
    let meta = cf_handle(db, CF_META)?;
    let mut batch = WriteBatch::default();
    batch.put_cf(meta, keys::META_MAX_SEQ, record::encode_max_seq(mark));
    batch.put_cf(
        meta,
        keys::META_FORMAT_VERSION,
        FORMAT_VERSION.to_be_bytes(),
    );
    let mut opts = WriteOptions::default();
    opts.set_sync(true);
    db.write_opt(batch, &opts)
        .map_err(backend("write format version"))
}

/// Keys [`scan_max_seq`] steps through in one band before it seeks to the band's end
/// instead; a seek costs roughly as much as a dozen steps.
const STEPS_BEFORE_SEEK: u32 = 16;

/// The highest seq of any stored message, 0 when none. Within a queue and priority (a band)
/// keys are in seq order, so only each band's last key matters: the scan steps through short
/// bands and, a few keys into a long one, seeks back from the greatest key the band can have
/// to its last key. That bounds it by both a plain scan and one seek per band.
pub(crate) fn scan_max_seq(db: &DB) -> Result<u64, StoreError> {
    let mut iter = db.raw_iterator_cf(cf_handle(db, CF_MESSAGES)?);
    let mut max = 0;
    let mut band = Vec::new();
    let mut steps = 0;
    iter.seek_to_first();
    while let Some(key) = iter.key() {
        max = max.max(keys::decode_message_key(key)?.seq);
        if keys::band(key) != band {
            band = keys::band(key).to_vec();
            steps = 0;
        }
        steps += 1;
        if steps == STEPS_BEFORE_SEEK {
            // Lands on a key of this band at or after `key`, read in the next round.
            iter.seek_for_prev(keys::band_last(key));
        } else {
            iter.next();
        }
    }
    iter.status()
        .map_err(backend("scan messages for max seq"))?;
    Ok(max)
}
