//! broker-core (being written).
