//! broker-stomp (being written).
