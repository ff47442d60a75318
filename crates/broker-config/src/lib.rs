//! broker-config (being written).
