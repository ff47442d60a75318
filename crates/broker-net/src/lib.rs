//! broker-net (being written).
