//! When a message is first dispatched (scheduled delivery, priority-lane delay) and when a
//! scheduled message fires again. ActiveMQ's rules: `AMQ_SCHEDULED_DELAY` before the first
//! delivery, then `AMQ_SCHEDULED_REPEAT` more copies `AMQ_SCHEDULED_PERIOD` apart. A CRON
//! entry takes priority over the delay: without a repeat, each time it names delivers a
//! copy; with one, each time it names starts a series of its own (delay, then repeat + 1
//! copies period apart), which runs beside the CRON job as ActiveMQ's scheduler does.

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
    if let Some(s) = msg.schedule().filter(|s| !s.is_immediate()) {
        let deliver_at = match &s.cron {
            Some(expr) => next_cron(expr, now)?,
            None => now.saturating_add(s.delay),
        };
        return Ok(Placement {
            lane,
            // Never 0: 0 means "at once" in the record.
            deliver_at: deliver_at.max(1),
            // A CRON job never counts down; its series do.
            repeats_left: if s.cron.is_some() { 0 } else { s.repeat },
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
    match msg.schedule().and_then(|s| s.cron.as_ref()) {
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

/// What one firing of a job hands on: `None` for a plain copy delivered at once; for a CRON
/// job with a repeat, the schedule of the series that firing starts.
pub(crate) fn series_of(schedule: Option<&Schedule>) -> Option<Schedule> {
    let s = schedule?;
    (s.cron.is_some() && s.repeat > 0).then(|| Schedule {
        cron: None,
        ..s.clone()
    })
}

/// The job's next firing after the one at `fired_at` (now `now`): the next copy of the
/// series, or the next CRON time. `None` when the series is over or the expression names no
/// later time.
pub(crate) fn next_firing(
    schedule: Option<&Schedule>,
    at: &Placement,
    fired_at: u64,
    now: u64,
) -> Option<Placement> {
    let s = schedule?;
    if let Some(expr) = &s.cron {
        let next = next_cron(expr, now.max(fired_at)).ok()?;
        return Some(Placement {
            lane: at.lane,
            deliver_at: next.max(1),
            repeats_left: 0,
        });
    }
    (at.repeats_left > 0).then(|| Placement {
        lane: at.lane,
        deliver_at: fired_at.saturating_add(s.period).max(1),
        repeats_left: at.repeats_left - 1,
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
        let mut m = Message {
            persistent: true,
            priority,
            ..Message::new(Arc::from("ID:1"), Destination::queue("q"), ConnectionId(0))
        };
        m.extras_mut().schedule = schedule;
        m
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
        // Without a repeat a firing is a plain copy; with one it starts a series.
        assert_eq!(series_of(Some(&s)), None);
        let with_repeat = Schedule {
            delay: 1000,
            period: 500,
            repeat: 2,
            ..s.clone()
        };
        let at = first_placement(
            &msg(4, Some(with_repeat.clone())),
            &DestinationPolicy::default(),
            61_000,
        )
        .unwrap();
        assert_eq!((at.deliver_at, at.repeats_left), (120_000, 0));
        let series = series_of(Some(&with_repeat)).unwrap();
        assert_eq!(
            (
                series.cron.as_deref(),
                series.delay,
                series.period,
                series.repeat
            ),
            (None, 1000, 500, 2)
        );
        let next = next_firing(Some(&with_repeat), &at, 120_000, 120_000).unwrap();
        assert_eq!((next.deliver_at, next.repeats_left), (180_000, 0));
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
