//! Parses arbitrary UTF-8 as a JMS selector and evaluates what parses; see
//! `ferromq_fuzz::selector` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferromq_fuzz::selector(data);
});
