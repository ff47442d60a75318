//! testkit (being written)
