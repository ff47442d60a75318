//! Decodes arbitrary bytes under every STOMP version and limit set; see
//! `ferromq_fuzz::stomp_decode` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ferromq_fuzz::stomp_decode(data);
});
