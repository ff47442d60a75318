//! Heart-beat negotiation arithmetic (STOMP 1.1/1.2 §Heart-beating). Pure: the caller owns
//! the clock.

/// The agreed period in milliseconds for heart-beats flowing in one direction, given what
/// the sender said it can do (its `heart-beat` first number, `cx`) and what the receiver
/// said it wants (its second number, `sy`). `None` means no heart-beats in that direction.
///
/// Client → server: `heart_beat_period(cx, sy)`; server → client: `heart_beat_period(sx, cy)`.
pub fn heart_beat_period(sender_can: u32, receiver_wants: u32) -> Option<u32> {
    if sender_can == 0 || receiver_wants == 0 {
        None
    } else {
        Some(sender_can.max(receiver_wants))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_rules() {
        assert_eq!(heart_beat_period(0, 1000), None);
        assert_eq!(heart_beat_period(1000, 0), None);
        assert_eq!(heart_beat_period(500, 1000), Some(1000));
        assert_eq!(heart_beat_period(2000, 1000), Some(2000));
    }
}
