//! When a message is first dispatched (scheduled delivery, priority-lane delay) and when a
//! scheduled message fires again. ActiveMQ's rules: `AMQ_SCHEDULED_DELAY` before the first
//! delivery, then `AMQ_SCHEDULED_REPEAT` more copies `AMQ_SCHEDULED_PERIOD` apart; a CRON
//! entry takes priority over the delay and starts that series at every time it names.

use crate::cron::Cron;
use crate::record::{store_lane, Placement};
use crate::{CoreError, DestinationPolicy, Message, Schedule};

/// Where and when a newly sent message goes.
pub(crate) fn first_placement(
    msg: &Message,
    policy: &DestinationPolicy,
    now: u64,
) -> Result<Placement, CoreError> {
    let lane = store_lane(msg, policy.prioritized_messages);
    if let Some(s) = msg.schedule.as_ref().filter(|s| !s.is_immediate()) {
        let deliver_at = match &s.cron {
            Some(expr) => next_cron(expr, now)?,
            None => now.saturating_add(s.delay),
        };
        return Ok(Placement {
            lane,
            // Never 0: 0 means "at once" in the record.
            deliver_at: deliver_at.max(1),
            repeats_left: s.repeat,
        });
    }
    let delay = policy.lane_delay(msg.priority);
    Ok(Placement {
        lane,
        deliver_at: if delay > 0 {
            now.saturating_add(delay)
        } else {
            0
        },
        repeats_left: 0,
    })
}

/// Checks a message's schedule before it is accepted (or staged in a transaction), so a bad
/// CRON entry is refused to its producer rather than failing later.
pub(crate) fn validate(msg: &Message) -> Result<(), CoreError> {
    match msg.schedule.as_ref().and_then(|s| s.cron.as_ref()) {
        Some(expr) => Cron::parse(expr)
            .map(|_| ())
            .map_err(|e| CoreError::InvalidSchedule(e.to_string())),
        None => Ok(()),
    }
}

/// True when firing a message with this schedule delivers a copy and keeps the message
/// scheduled (more repeats, or a CRON entry that fires forever); false when the firing
/// delivers the message itself.
pub(crate) fn is_job(schedule: Option<&Schedule>, at: &Placement) -> bool {
    schedule.is_some_and(|s| s.cron.is_some()) || at.repeats_left > 0
}

/// The job's next firing after the one at `fired_at` (now `now`): the next copy of the
/// series, or the next CRON time. `None` when the expression names no later time.
pub(crate) fn next_firing(
    schedule: Option<&Schedule>,
    at: &Placement,
    fired_at: u64,
    now: u64,
) -> Option<Placement> {
    let s = schedule?;
    if at.repeats_left > 0 {
        return Some(Placement {
            lane: at.lane,
            deliver_at: fired_at.saturating_add(s.period).max(1),
            repeats_left: at.repeats_left - 1,
        });
    }
    let expr = s.cron.as_ref()?;
    let next = next_cron(expr, now.max(fired_at)).ok()?;
    Some(Placement {
        lane: at.lane,
        deliver_at: next.max(1),
        repeats_left: s.repeat,
    })
}

fn next_cron(expr: &str, after: u64) -> Result<u64, CoreError> {
    let cron = Cron::parse(expr).map_err(|e| CoreError::InvalidSchedule(e.to_string()))?;
    cron.next_after(after).ok_or_else(|| {
        CoreError::InvalidSchedule(format!("cron entry '{expr}' names no future time"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnectionId, Destination};
    use std::sync::Arc;

    fn msg(priority: u8, schedule: Option<Schedule>) -> Message {
        Message {
            persistent: true,
            priority,
            schedule,
            ..Message::new(Arc::from("ID:1"), Destination::queue("q"), ConnectionId(0))
        }
    }

    #[test]
    fn delay_then_repeats_period_apart() {
        let policy = DestinationPolicy::default();
        let s = Schedule {
            delay: 1000,
            period: 500,
            repeat: 2,
            cron: None,
        };
        let m = msg(4, Some(s.clone()));
        let at = first_placement(&m, &policy, 10_000).unwrap();
        assert_eq!((at.lane, at.deliver_at, at.repeats_left), (4, 11_000, 2));
        assert!(is_job(Some(&s), &at));
        let next = next_firing(Some(&s), &at, 11_000, 11_003).unwrap();
        assert_eq!((next.deliver_at, next.repeats_left), (11_500, 1));
        let last = next_firing(Some(&s), &next, 11_500, 11_500).unwrap();
        assert_eq!((last.deliver_at, last.repeats_left), (12_000, 0));
        // The last firing delivers the message itself.
        assert!(!is_job(Some(&s), &last));
    }

    #[test]
    fn lane_delay_applies_without_a_schedule() {
        let policy = DestinationPolicy {
            priority_lanes: vec![crate::PriorityLane {
                priorities: 0..=3,
                delay_ms: 120_000,
            }],
            ..DestinationPolicy::default()
        };
        assert_eq!(
            first_placement(&msg(2, None), &policy, 5)
                .unwrap()
                .deliver_at,
            120_005
        );
        let at = first_placement(&msg(8, None), &policy, 5).unwrap();
        assert_eq!((at.lane, at.deliver_at), (8, 0));
        let fifo = DestinationPolicy {
            prioritized_messages: false,
            ..DestinationPolicy::default()
        };
        assert_eq!(first_placement(&msg(8, None), &fifo, 5).unwrap().lane, 4);
    }

    #[test]
    fn cron_wins_over_delay_and_repeats_forever() {
        let s = Schedule {
            delay: 999_999,
            period: 0,
            repeat: 0,
            cron: Some(Arc::from("* * * * *")),
        };
        let m = msg(4, Some(s.clone()));
        let at = first_placement(&m, &DestinationPolicy::default(), 61_000).unwrap();
        assert_eq!(at.deliver_at, 120_000);
        assert!(is_job(Some(&s), &at));
        let next = next_firing(Some(&s), &at, 120_000, 120_001).unwrap();
        assert_eq!(next.deliver_at, 180_000);
        let bad = msg(
            4,
            Some(Schedule {
                cron: Some(Arc::from("not cron")),
                ..s
            }),
        );
        assert!(matches!(
            first_placement(&bad, &DestinationPolicy::default(), 0),
            Err(CoreError::InvalidSchedule(_))
        ));
    }
}
