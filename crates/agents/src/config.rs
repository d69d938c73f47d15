//! The support desk's settings for one bank: its name, the default team, business hours, the SLA
//! after which a waiting customer is escalated, and the handling time the estimate assumes.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use chrono_tz::Tz;

/// When people answer: on these weekdays (1 = Monday … 7 = Sunday), from `open` until `close`,
/// in `timezone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    pub days: Vec<u32>,
    pub open: NaiveTime,
    pub close: NaiveTime,
    pub timezone: Tz,
}

impl BusinessHours {
    /// Whether staff are at work at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        let day = local.weekday().number_from_monday();
        let t = local.time();
        self.days.contains(&day) && t >= self.open && t < self.close
    }

    /// "pn–pt 08:00–20:00" / "Mon–Fri 08:00–20:00" style text for the customer.
    pub fn describe(&self, pl: bool) -> String {
        const PL: [&str; 7] = ["pn", "wt", "śr", "czw", "pt", "sob", "nd"];
        const EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let names = if pl { PL } else { EN };
        let days: Vec<&str> = self
            .days
            .iter()
            .filter_map(|d| names.get((*d as usize).wrapping_sub(1)).copied())
            .collect();
        format!(
            "{} {}–{}",
            days.join(", "),
            self.open.format("%H:%M"),
            self.close.format("%H:%M")
        )
    }
}

#[derive(Debug, Clone)]
pub struct AgentsConfig {
    /// The bank this gateway serves; staff see only its customers.
    pub bank: String,
    /// The queue a new handover goes to.
    pub default_team: String,
    /// `None`: staff answer at any hour.
    pub hours: Option<BusinessHours>,
    /// A customer waiting longer than this is escalated to the supervisor view.
    pub sla: Duration,
    /// The handling time per customer ahead that the queue estimate assumes.
    pub minutes_per_customer: u32,
    /// How often the SLA check runs.
    pub sla_check_every: Duration,
    /// Mark the console's session cookie `Secure` (the gateway's public URL is https).
    pub secure_cookie: bool,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            bank: "sandbox".into(),
            default_team: "general".into(),
            hours: None,
            sla: Duration::from_secs(120),
            minutes_per_customer: 3,
            sla_check_every: Duration::from_secs(5),
            secure_cookie: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_follow_the_local_clock() {
        let h = BusinessHours {
            days: vec![1, 2, 3, 4, 5],
            open: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            close: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
            timezone: chrono_tz::Europe::Warsaw,
        };
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // Monday 30 Nov 2026, 07:30 UTC = 08:30 in Warsaw.
        assert!(h.is_open(at("2026-11-30T07:30:00Z")));
        assert!(!h.is_open(at("2026-11-30T06:30:00Z")));
        assert!(!h.is_open(at("2026-11-30T19:00:00Z")));
        // Saturday.
        assert!(!h.is_open(at("2026-12-05T10:00:00Z")));
        assert_eq!(h.describe(true), "pn, wt, śr, czw, pt 08:00–20:00");
    }
}
