//! The limit policy: fixed-window counters per project and per visitor, per operation class,
//! plus a monthly completion quota per plan; which counters a request moves and what their
//! counts allow. The counters themselves live in the store (`LimitStore`), and the edge
//! moves them in parallel with a request's other reads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue};
use time::OffsetDateTime;

use strum::IntoStaticStr;

use crate::assistant::{LimitOverrides, Plan};
use crate::env::{ConfigError, Env};
use crate::error::ApiError;
use crate::ids::{Caller, ProjectId, VisitorId};
use crate::timestamp::Timestamp;

/// The operations that share a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum OperationClass {
    /// `POST /v2/chat/completions`.
    Completions,
    /// `GET` and `close` of a conversation.
    Reads,
    /// `POST /v2/identity/init`: it creates visitors without a session, so it is counted
    /// per source IP and per project.
    Inits,
}

/// Limits from configuration; `0` means no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// Whether counters are kept at all (`RATE_LIMITS_ENABLED`, default true).
    pub enabled: bool,
    /// The fixed window's length (`RATE_LIMIT_WINDOW_SECS`, default 60).
    pub window_secs: u64,
    /// Per-window limits.
    pub limits: Limits,
    /// Completions per month on the free plan (`QUOTA_FREE_MONTHLY_COMPLETIONS`, 1,000).
    pub monthly_free: u64,
    /// Completions per month on the pro plan (`QUOTA_PRO_MONTHLY_COMPLETIONS`, 100,000).
    pub monthly_pro: u64,
}

/// Per-window limits for each class and scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Completions per visitor (`RATE_LIMIT_COMPLETIONS_PER_VISITOR`, 20).
    pub completions_per_visitor: u64,
    /// Completions per project (`RATE_LIMIT_COMPLETIONS_PER_PROJECT`, 600).
    pub completions_per_project: u64,
    /// Gets and closes per visitor (`RATE_LIMIT_READS_PER_VISITOR`, 120).
    pub reads_per_visitor: u64,
    /// Gets and closes per project (`RATE_LIMIT_READS_PER_PROJECT`, 3,000).
    pub reads_per_project: u64,
    /// Session inits per source IP (`RATE_LIMIT_INITS_PER_IP`, 30).
    pub inits_per_ip: u64,
    /// Session inits per project (`RATE_LIMIT_INITS_PER_PROJECT`, 1,200).
    pub inits_per_project: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 60,
            limits: Limits {
                completions_per_visitor: 20,
                completions_per_project: 600,
                reads_per_visitor: 120,
                reads_per_project: 3_000,
                inits_per_ip: 30,
                inits_per_project: 1_200,
            },
            monthly_free: 1_000,
            monthly_pro: 100_000,
        }
    }
}

impl LimitSettings {
    /// Reads `RATE_LIMITS_ENABLED`, `RATE_LIMIT_*` and `QUOTA_*`; each has a default.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let limits = &defaults.limits;
        Ok(Self {
            enabled: env.flag("RATE_LIMITS_ENABLED", true)?,
            window_secs: env.number("RATE_LIMIT_WINDOW_SECS", defaults.window_secs)?,
            limits: Limits {
                completions_per_visitor: env.number(
                    "RATE_LIMIT_COMPLETIONS_PER_VISITOR",
                    limits.completions_per_visitor,
                )?,
                completions_per_project: env.number(
                    "RATE_LIMIT_COMPLETIONS_PER_PROJECT",
                    limits.completions_per_project,
                )?,
                reads_per_visitor: env
                    .number("RATE_LIMIT_READS_PER_VISITOR", limits.reads_per_visitor)?,
                reads_per_project: env
                    .number("RATE_LIMIT_READS_PER_PROJECT", limits.reads_per_project)?,
                inits_per_ip: env.number("RATE_LIMIT_INITS_PER_IP", limits.inits_per_ip)?,
                inits_per_project: env
                    .number("RATE_LIMIT_INITS_PER_PROJECT", limits.inits_per_project)?,
            },
            monthly_free: env.number("QUOTA_FREE_MONTHLY_COMPLETIONS", defaults.monthly_free)?,
            monthly_pro: env.number("QUOTA_PRO_MONTHLY_COMPLETIONS", defaults.monthly_pro)?,
        })
    }
}

/// Which counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterScope {
    /// One visitor's requests in the window.
    Visitor,
    /// The project's requests in the window.
    Project,
    /// The project's completions this month.
    Monthly,
    /// One source IP's requests in the window.
    SourceIp,
}

/// A counter to increment: what it counts, its window, its expiry, and when it resets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    /// What it counts.
    pub scope: CounterScope,
    /// The operations it counts (the monthly quota counts completions).
    pub class: OperationClass,
    /// The project counted.
    pub project: ProjectId,
    /// The visitor counted, for [`CounterScope::Visitor`].
    pub visitor: Option<VisitorId>,
    /// The address counted, for [`CounterScope::SourceIp`].
    pub source_ip: Option<String>,
    /// The window: its start (epoch seconds) or the month (`2026-11`).
    pub window: String,
    /// When DynamoDB's TTL may delete it (epoch seconds).
    pub expires_at: i64,
    /// Seconds until it resets.
    pub reset_secs: u64,
}

/// The counters' verdict for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateStatus {
    checks: Vec<Check>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Check {
    scope: CounterScope,
    limit: u64,
    count: u64,
    reset_secs: u64,
}

/// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until the window resets).
pub const LIMIT_HEADERS: [&str; 3] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

impl RateStatus {
    /// No limits applied (counters disabled).
    pub fn unlimited() -> Self {
        Self { checks: Vec::new() }
    }

    /// 429 when any counter is past its limit, with the longest wait among them.
    pub fn check(&self) -> Result<(), ApiError> {
        let exceeded = self
            .checks
            .iter()
            .filter(|c| c.count > c.limit)
            .max_by_key(|c| c.reset_secs);
        match exceeded {
            None => Ok(()),
            Some(check) => Err(ApiError::RateLimited {
                message: match check.scope {
                    CounterScope::Visitor => format!(
                        "Rate limit exceeded: at most {} requests of this kind per visitor in the window",
                        check.limit
                    ),
                    CounterScope::Project => format!(
                        "Rate limit exceeded: at most {} requests of this kind per project in the window",
                        check.limit
                    ),
                    CounterScope::Monthly => format!(
                        "Monthly completion quota of {} exhausted for this project's plan",
                        check.limit
                    ),
                    CounterScope::SourceIp => format!(
                        "Rate limit exceeded: at most {} requests of this kind per address in the window",
                        check.limit
                    ),
                },
                retry_after: check.reset_secs,
            }),
        }
    }

    /// The rate-limit headers of the tightest window limit (the monthly quota is not a
    /// window and is reported only through a 429).
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let tightest = self
            .checks
            .iter()
            .filter(|c| c.scope != CounterScope::Monthly)
            .min_by_key(|c| {
                (
                    c.limit.saturating_sub(c.count),
                    std::cmp::Reverse(c.reset_secs),
                )
            });
        if let Some(check) = tightest {
            let values = [
                check.limit,
                check.limit.saturating_sub(check.count),
                check.reset_secs,
            ];
            for (name, value) in LIMIT_HEADERS.iter().zip(values) {
                headers.insert(*name, HeaderValue::from(value));
            }
        }
        headers
    }
}

/// Decides which counters a request moves and what they allow; caches each project's
/// overrides briefly so a get or close need not read them every time.
pub struct RateLimiter {
    settings: LimitSettings,
    cache: Mutex<HashMap<ProjectId, (Instant, LimitOverrides)>>,
}

/// How long a project's limit overrides are trusted once read.
pub const OVERRIDES_CACHE_TTL: Duration = Duration::from_secs(60);

impl RateLimiter {
    /// A limiter for `settings`.
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            settings,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether counters are kept.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// A project's cached overrides, when fresh.
    pub fn cached_overrides(&self, project: ProjectId) -> Option<LimitOverrides> {
        let cache = self.cache.lock().expect("limit cache");
        cache
            .get(&project)
            .filter(|(at, _)| at.elapsed() < OVERRIDES_CACHE_TTL)
            .map(|(_, overrides)| *overrides)
    }

    /// Remembers a project's overrides.
    pub fn remember_overrides(&self, project: ProjectId, overrides: LimitOverrides) {
        let mut cache = self.cache.lock().expect("limit cache");
        // A warm function serves few projects; bound the map all the same.
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(project, (Instant::now(), overrides));
    }

    /// A window counter of `scope` for `class` at `now`, the window fixed and shared.
    fn window_counter(
        &self,
        scope: CounterScope,
        class: OperationClass,
        project: ProjectId,
        now: Timestamp,
    ) -> Counter {
        let seconds = now.unix_seconds().max(0) as u64;
        let window = self.settings.window_secs.max(1);
        let start = seconds - seconds % window;
        Counter {
            scope,
            class,
            project,
            visitor: None,
            source_ip: None,
            window: start.to_string(),
            expires_at: (start + 2 * window) as i64,
            reset_secs: (start + window - seconds).max(1),
        }
    }

    /// The counters a request of `class` moves at `now` (none when disabled).
    pub fn counters(&self, caller: Caller, class: OperationClass, now: Timestamp) -> Vec<Counter> {
        if !self.settings.enabled {
            return Vec::new();
        }
        let mut counters = vec![
            Counter {
                visitor: Some(caller.visitor),
                ..self.window_counter(CounterScope::Visitor, class, caller.project, now)
            },
            self.window_counter(CounterScope::Project, class, caller.project, now),
        ];
        if class == OperationClass::Completions {
            let (month, reset_secs) = month_and_reset(now);
            counters.push(Counter {
                scope: CounterScope::Monthly,
                class,
                project: caller.project,
                visitor: None,
                source_ip: None,
                window: month,
                expires_at: now.unix_seconds() + reset_secs as i64 + 40 * 86_400,
                reset_secs,
            });
        }
        counters
    }

    /// The counters a session init for `project` from `source_ip` moves at `now` (none
    /// when disabled).
    pub fn init_counters(
        &self,
        project: ProjectId,
        source_ip: &str,
        now: Timestamp,
    ) -> Vec<Counter> {
        if !self.settings.enabled {
            return Vec::new();
        }
        let class = OperationClass::Inits;
        vec![
            Counter {
                source_ip: Some(source_ip.to_owned()),
                ..self.window_counter(CounterScope::SourceIp, class, project, now)
            },
            self.window_counter(CounterScope::Project, class, project, now),
        ]
    }

    /// The verdict for `counts` (the counters' values after this request's increment).
    pub fn evaluate(
        &self,
        class: OperationClass,
        counters: &[Counter],
        counts: &[u64],
        overrides: &LimitOverrides,
        plan: Plan,
    ) -> RateStatus {
        let limits = &self.settings.limits;
        let (visitor, project) = match class {
            OperationClass::Completions => (
                overrides
                    .completions_per_visitor
                    .unwrap_or(limits.completions_per_visitor),
                overrides
                    .completions_per_project
                    .unwrap_or(limits.completions_per_project),
            ),
            OperationClass::Reads => (
                overrides
                    .reads_per_visitor
                    .unwrap_or(limits.reads_per_visitor),
                overrides
                    .reads_per_project
                    .unwrap_or(limits.reads_per_project),
            ),
            OperationClass::Inits => (limits.inits_per_ip, limits.inits_per_project),
        };
        let monthly = overrides.monthly_completions.unwrap_or(match plan {
            Plan::Free => self.settings.monthly_free,
            Plan::Pro => self.settings.monthly_pro,
        });
        let checks = counters
            .iter()
            .zip(counts)
            .filter_map(|(counter, count)| {
                let limit = match counter.scope {
                    CounterScope::Visitor | CounterScope::SourceIp => visitor,
                    CounterScope::Project => project,
                    CounterScope::Monthly => monthly,
                };
                (limit > 0).then_some(Check {
                    scope: counter.scope,
                    limit,
                    count: *count,
                    reset_secs: counter.reset_secs,
                })
            })
            .collect();
        RateStatus { checks }
    }
}

/// The month of `now` (`2026-11`) and the seconds until the next one begins (UTC).
fn month_and_reset(now: Timestamp) -> (String, u64) {
    let at = OffsetDateTime::from_unix_timestamp(now.unix_seconds())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (year, month) = (at.year(), at.month());
    let (next_year, next_month) = if month == time::Month::December {
        (year + 1, time::Month::January)
    } else {
        (year, month.next())
    };
    let next = time::Date::from_calendar_date(next_year, next_month, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .unwrap_or(now.unix_seconds() + 86_400);
    (
        format!("{year:04}-{:02}", u8::from(month)),
        (next - now.unix_seconds()).max(1) as u64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn caller() -> Caller {
        Caller {
            project: ProjectId(Uuid::nil()),
            visitor: VisitorId(Uuid::max()),
        }
    }

    #[test]
    fn windows_are_fixed_and_reset_at_their_end() {
        let limiter = RateLimiter::new(LimitSettings::default());
        let at = Timestamp::from_unix_millis(1_800_000_045_500);
        let counters = limiter.counters(caller(), OperationClass::Reads, at);
        assert_eq!(counters.len(), 2);
        assert_eq!(counters[0].window, "1800000000");
        assert_eq!(counters[0].reset_secs, 15);
        assert_eq!(counters[0].visitor, Some(VisitorId(Uuid::max())));
        assert_eq!(
            limiter
                .counters(caller(), OperationClass::Completions, at)
                .len(),
            3
        );
    }

    #[test]
    fn settings_have_defaults_and_refuse_what_does_not_parse() {
        let settings = LimitSettings::from_env(&Env::from_pairs(&[
            ("RATE_LIMITS_ENABLED", "false"),
            ("RATE_LIMIT_READS_PER_VISITOR", "7"),
        ]))
        .unwrap();
        assert!(!settings.enabled);
        assert_eq!(settings.limits.reads_per_visitor, 7);
        assert_eq!(settings.window_secs, LimitSettings::default().window_secs);
        let err = LimitSettings::from_env(&Env::from_pairs(&[("RATE_LIMITS_ENABLED", "maybe")]))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("RATE_LIMITS_ENABLED is invalid")
        );
    }

    #[test]
    fn the_month_turns_on_the_first_at_midnight_utc() {
        // 2026-12-31T23:59:00Z
        let (month, reset) = month_and_reset(Timestamp::from_unix_millis(1_798_761_540_000));
        assert_eq!(month, "2026-12");
        assert_eq!(reset, 60);
    }

    #[test]
    fn the_request_past_the_limit_is_429_and_headers_name_the_tightest_limit() {
        let limiter = RateLimiter::new(LimitSettings::default());
        let at = Timestamp::from_unix_millis(1_800_000_045_000);
        let counters = limiter.counters(caller(), OperationClass::Completions, at);
        let overrides = LimitOverrides {
            completions_per_visitor: Some(3),
            ..LimitOverrides::default()
        };
        let ok = limiter.evaluate(
            OperationClass::Completions,
            &counters,
            &[3, 10, 50],
            &overrides,
            Plan::Free,
        );
        assert!(ok.check().is_ok());
        let headers = ok.headers();
        assert_eq!(headers["x-ratelimit-limit"], "3");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert_eq!(headers["x-ratelimit-reset"], "15");
        let over = limiter.evaluate(
            OperationClass::Completions,
            &counters,
            &[4, 10, 50],
            &overrides,
            Plan::Free,
        );
        let error = over.check().unwrap_err();
        assert_eq!(error.status(), 429);
        assert_eq!(error.retry_after(), Some(15));
        let quota = limiter.evaluate(
            OperationClass::Completions,
            &counters,
            &[1, 1, 1_001],
            &overrides,
            Plan::Free,
        );
        assert!(quota.check().unwrap_err().retry_after().unwrap() > 15);
        assert!(
            limiter
                .evaluate(
                    OperationClass::Completions,
                    &counters,
                    &[1, 1, 1_001],
                    &overrides,
                    Plan::Pro
                )
                .check()
                .is_ok()
        );
    }
}
