//! Doctors in the directory and the slot grid they offer: weekly working hours in the doctor's own
//! IANA time zone, cut into fixed-length slots. Slots are computed in local time and converted to
//! UTC one by one, so a DST change shifts the UTC times of a day rather than bending the grid.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone as _, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::zone::Zone;
use super::{InvalidValue, UserId};

/// An IANA time zone such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(Zone);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Zone::from_name(raw)
            .map(Self)
            .ok_or_else(|| InvalidValue::new("time_zone", "must be an IANA time zone name"))
    }

    /// The zone as a [`chrono::TimeZone`] (on jiff's database, see [`super::zone`]).
    pub fn tz(&self) -> Zone {
        self.0
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl Default for TimeZone {
    fn default() -> Self {
        Self(Zone::UTC)
    }
}

impl TryFrom<String> for TimeZone {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TimeZone> for String {
    fn from(value: TimeZone) -> Self {
        value.0.name().to_owned()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// One stretch of working time on a weekday, in the doctor's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingInterval {
    pub day: Weekday,
    #[serde(with = "hhmm")]
    pub start: NaiveTime,
    #[serde(with = "hhmm")]
    pub end: NaiveTime,
}

/// A doctor's weekly hours: intervals that do not overlap, each with start < end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<WorkingInterval>", into = "Vec<WorkingInterval>")]
pub struct WeeklyHours(Vec<WorkingInterval>);

impl WeeklyHours {
    pub fn new(mut intervals: Vec<WorkingInterval>) -> Result<Self, InvalidValue> {
        intervals.sort_by_key(|i| (i.day.num_days_from_monday(), i.start));
        for i in &intervals {
            if i.start >= i.end {
                return Err(InvalidValue::new(
                    "weekly_hours",
                    "each interval must start before it ends",
                ));
            }
        }
        for pair in intervals.windows(2) {
            if pair[0].day == pair[1].day && pair[1].start < pair[0].end {
                return Err(InvalidValue::new(
                    "weekly_hours",
                    "intervals must not overlap",
                ));
            }
        }
        Ok(Self(intervals))
    }

    /// The same hours on every listed day.
    pub fn every(days: &[Weekday], start: NaiveTime, end: NaiveTime) -> Result<Self, InvalidValue> {
        Self::new(
            days.iter()
                .map(|&day| WorkingInterval { day, start, end })
                .collect(),
        )
    }

    pub fn on(&self, day: Weekday) -> impl Iterator<Item = &WorkingInterval> {
        self.0.iter().filter(move |i| i.day == day)
    }
}

impl TryFrom<Vec<WorkingInterval>> for WeeklyHours {
    type Error = InvalidValue;
    fn try_from(value: Vec<WorkingInterval>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<WeeklyHours> for Vec<WorkingInterval> {
    fn from(value: WeeklyHours) -> Self {
        value.0
    }
}

/// A bookable slot, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// How far ahead a patient may book, and how slot lengths are bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRules;

impl SlotRules {
    pub const MAX_DAYS_AHEAD: i64 = 90;
    pub const MIN_SLOT_MINUTES: u32 = 5;
    pub const MAX_SLOT_MINUTES: u32 = 240;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doctor {
    pub id: UserId,
    pub name: String,
    pub specialty: String,
    pub time_zone: TimeZone,
    pub weekly_hours: WeeklyHours,
    pub slot_minutes: u32,
}

impl Doctor {
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if !(SlotRules::MIN_SLOT_MINUTES..=SlotRules::MAX_SLOT_MINUTES).contains(&self.slot_minutes)
        {
            return Err(InvalidValue::new(
                "slot_minutes",
                "must be between 5 and 240",
            ));
        }
        if self.name.trim().is_empty() {
            return Err(InvalidValue::new("name", "must not be empty"));
        }
        Ok(())
    }

    pub fn slot_length(&self) -> Duration {
        Duration::minutes(i64::from(self.slot_minutes))
    }

    /// Every slot of the doctor's grid on a local calendar date, in UTC and in order. A local
    /// time that does not exist (spring forward) is skipped; one that exists twice (fall back)
    /// is taken at its first occurrence, so no two slots share a UTC start. A slot that starts
    /// before a spring-forward gap and would end inside it lasts its full length in real time,
    /// past the next grid time after the gap: the later slot it overlaps is dropped, so no two
    /// slots ever overlap (one doctor, one consultation at a time).
    pub fn slots_on(&self, date: NaiveDate) -> Vec<Slot> {
        let tz = self.time_zone.tz();
        let step = self.slot_length();
        let mut slots = Vec::new();
        for interval in self.weekly_hours.on(date.weekday_of()) {
            let mut local = date.and_time(interval.start);
            let end = date.and_time(interval.end);
            while local + step <= end {
                let start = match tz.from_local_datetime(&local) {
                    chrono::LocalResult::Single(t) => Some(t),
                    chrono::LocalResult::Ambiguous(first, _) => Some(first),
                    chrono::LocalResult::None => None,
                };
                if let Some(start) = start {
                    let start = start.with_timezone(&Utc);
                    slots.push(Slot {
                        start,
                        end: start + step,
                    });
                }
                local += step;
            }
        }
        slots.sort();
        let mut kept: Vec<Slot> = Vec::with_capacity(slots.len());
        for slot in slots {
            // Also drops a second slot with the same start.
            if kept.last().is_none_or(|last| slot.start >= last.end) {
                kept.push(slot);
            }
        }
        kept
    }

    /// The slot of this doctor's grid that starts exactly at `start`, if there is one.
    pub fn slot_at(&self, start: DateTime<Utc>) -> Option<Slot> {
        let local_date = start.with_timezone(&self.time_zone.tz()).date_naive();
        self.slots_on(local_date)
            .into_iter()
            .find(|s| s.start == start)
    }

    /// The slots of a local date that can still be booked at `now`: in the future, inside the
    /// booking horizon, and not in `taken`.
    pub fn free_slots_on(
        &self,
        date: NaiveDate,
        now: DateTime<Utc>,
        taken: &[DateTime<Utc>],
    ) -> Vec<Slot> {
        let horizon = now + Duration::days(SlotRules::MAX_DAYS_AHEAD);
        self.slots_on(date)
            .into_iter()
            .filter(|s| s.start > now && s.start <= horizon && !taken.contains(&s.start))
            .collect()
    }

    /// The UTC range that covers a local date of this doctor (for querying taken slots), or
    /// `None` when no slot of that date can be booked at `now`: the date is over, lies beyond
    /// the booking horizon, or is so far off that its range cannot be computed at all.
    pub fn bookable_utc_range_of(
        &self,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        // A local day is at most 26 hours of UTC and starts within ±14 h of UTC midnight.
        let midnight = date.and_time(NaiveTime::MIN).and_utc();
        let from = midnight.checked_sub_signed(Duration::hours(15))?;
        let to = midnight.checked_add_signed(Duration::hours(39))?;
        let horizon = now + Duration::days(SlotRules::MAX_DAYS_AHEAD);
        (to > now && from <= horizon).then_some((from, to))
    }
}

trait WeekdayOf {
    fn weekday_of(&self) -> Weekday;
}

impl WeekdayOf for NaiveDate {
    fn weekday_of(&self) -> Weekday {
        chrono::Datelike::weekday(self)
    }
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        NaiveTime::parse_from_str(&raw, "%H:%M").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, Timelike};

    use super::*;

    fn doctor(tz: &str) -> Doctor {
        Doctor {
            id: UserId::parse("doc").unwrap(),
            name: "Ada Example".into(),
            specialty: "General practice".into(),
            time_zone: TimeZone::parse(tz).unwrap(),
            weekly_hours: WeeklyHours::every(
                &[
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                    Weekday::Sun,
                ],
                NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            )
            .unwrap(),
            slot_minutes: 30,
        }
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_working_day_has_sixteen_half_hour_slots_in_local_time() {
        let d = doctor("Europe/Berlin");
        let slots = d.slots_on(date("2026-06-15"));
        assert_eq!(slots.len(), 16);
        assert_eq!(slots[0].start, utc("2026-06-15T07:00:00Z")); // CEST = UTC+2
        assert_eq!(slots[15].end, utc("2026-06-15T15:00:00Z"));
        assert!(d.slots_on(date("2026-06-13")).is_empty(), "Saturday is off");
    }

    #[test]
    fn slots_follow_new_york_across_both_dst_changes() {
        let d = doctor("America/New_York");
        // Spring forward: Sunday 2026-03-08, 09:00 local is already EDT (UTC-4).
        let spring = d.slots_on(date("2026-03-08"));
        assert_eq!(spring.len(), 16);
        assert_eq!(spring[0].start, utc("2026-03-08T13:00:00Z"));
        // The day before the change, 09:00 was EST (UTC-5).
        assert_eq!(
            d.slots_on(date("2026-03-06"))[0].start,
            utc("2026-03-06T14:00:00Z")
        );
        // Fall back: Sunday 2026-11-01, 09:00 local is EST again.
        let fall = d.slots_on(date("2026-11-01"));
        assert_eq!(fall.len(), 16);
        assert_eq!(fall[0].start, utc("2026-11-01T14:00:00Z"));
        for s in &fall {
            let local = s.start.with_timezone(&d.time_zone.tz());
            assert!(local.hour() >= 9 && local.hour() < 17);
        }
    }

    #[test]
    fn slots_follow_berlin_across_both_dst_changes() {
        let d = doctor("Europe/Berlin");
        let spring = d.slots_on(date("2026-03-29")); // Sunday, CET -> CEST at 02:00
        assert_eq!(spring.len(), 16);
        assert_eq!(spring[0].start, utc("2026-03-29T07:00:00Z"));
        let fall = d.slots_on(date("2026-10-25")); // Sunday, CEST -> CET at 03:00
        assert_eq!(fall.len(), 16);
        assert_eq!(fall[0].start, utc("2026-10-25T08:00:00Z"));
    }

    #[test]
    fn night_hours_across_a_gap_and_an_overlap_skip_or_dedupe() {
        let mut d = doctor("Europe/Berlin");
        d.weekly_hours = WeeklyHours::every(
            &[Weekday::Sun],
            NaiveTime::from_hms_opt(1, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(4, 0, 0).unwrap(),
        )
        .unwrap();
        // 02:00-03:00 does not exist on 2026-03-29: two half-hour slots vanish.
        let spring = d.slots_on(date("2026-03-29"));
        assert_eq!(spring.len(), 4);
        // 02:00-03:00 happens twice on 2026-10-25: each local slot once, no duplicate UTC start.
        let fall = d.slots_on(date("2026-10-25"));
        assert_eq!(fall.len(), 6);
        for pair in fall.windows(2) {
            assert!(pair[0].end <= pair[1].start, "slots overlap: {pair:?}");
        }
    }

    /// Found by the slot property (Asia/Famagusta, 2012-03-25): 45-minute slots from 01:30 on the
    /// night Berlin springs forward at 02:00. 01:30 CET lasts until 01:15 UTC = 03:15 CEST, past
    /// 03:00 CEST, the next grid time that exists: that one is dropped, not double-booked.
    #[test]
    fn a_slot_running_into_a_gap_pushes_out_the_slot_it_overlaps() {
        let mut d = doctor("Europe/Berlin");
        d.slot_minutes = 45;
        d.weekly_hours = WeeklyHours::every(
            &[Weekday::Sun],
            NaiveTime::from_hms_opt(1, 30, 0).unwrap(),
            NaiveTime::from_hms_opt(4, 30, 0).unwrap(),
        )
        .unwrap();
        let slots = d.slots_on(date("2026-03-29"));
        let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
        assert_eq!(
            starts,
            [utc("2026-03-29T00:30:00Z"), utc("2026-03-29T01:45:00Z")],
            "01:30 CET, (02:15 does not exist, 03:00 CEST overlaps 01:30's slot), 03:45 CEST"
        );
        for pair in slots.windows(2) {
            assert!(pair[0].end <= pair[1].start, "slots overlap: {pair:?}");
        }
        assert!(
            d.slot_at(utc("2026-03-29T01:00:00Z")).is_none(),
            "not bookable"
        );
    }

    #[test]
    fn free_slots_exclude_past_taken_and_beyond_the_horizon() {
        let d = doctor("Europe/Berlin");
        let day = date("2026-06-15");
        let now = utc("2026-06-15T10:10:00Z"); // 12:10 in Berlin
        let taken = [utc("2026-06-15T11:00:00Z")];
        let free = d.free_slots_on(day, now, &taken);
        assert_eq!(free.first().unwrap().start, utc("2026-06-15T10:30:00Z"));
        assert!(!free.iter().any(|s| s.start == taken[0]));
        assert_eq!(free.len(), 8); // 10:30 .. 14:30 UTC, minus 11:00
        let far = d.free_slots_on(date("2026-12-15"), now, &[]);
        assert!(far.is_empty(), "beyond 90 days");
    }

    #[test]
    fn slot_at_recognises_only_grid_starts() {
        let d = doctor("America/New_York");
        assert!(d.slot_at(utc("2026-06-15T13:00:00Z")).is_some()); // 09:00 EDT
        assert!(d.slot_at(utc("2026-06-15T13:15:00Z")).is_none()); // off grid
        assert!(d.slot_at(utc("2026-06-15T12:30:00Z")).is_none()); // 08:30, before hours
        assert!(d.slot_at(utc("2026-06-13T13:00:00Z")).is_none()); // Saturday
    }

    #[test]
    fn weekly_hours_reject_inverted_or_overlapping_intervals() {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        assert!(WeeklyHours::every(&[Weekday::Mon], t(17), t(9)).is_err());
        let overlapping = vec![
            WorkingInterval {
                day: Weekday::Mon,
                start: t(9),
                end: t(12),
            },
            WorkingInterval {
                day: Weekday::Mon,
                start: t(11),
                end: t(14),
            },
        ];
        assert!(WeeklyHours::new(overlapping).is_err());
    }

    #[test]
    fn no_range_to_query_for_dates_nothing_can_be_booked_on() {
        let d = doctor("Europe/Berlin");
        let now = utc("2026-06-15T10:10:00Z");
        assert!(d.bookable_utc_range_of(date("2026-06-15"), now).is_some());
        assert!(d.bookable_utc_range_of(date("2026-09-13"), now).is_some()); // day 90
        assert!(d.bookable_utc_range_of(date("2026-06-13"), now).is_none()); // over
        assert!(d.bookable_utc_range_of(date("2026-09-16"), now).is_none()); // beyond 90 days
                                                                             // The ends of chrono's calendar, where the range itself would overflow.
        assert!(d.bookable_utc_range_of(NaiveDate::MAX, now).is_none());
        assert!(d.bookable_utc_range_of(NaiveDate::MIN, now).is_none());
    }

    #[test]
    fn utc_range_of_a_date_covers_every_slot_in_any_zone() {
        for tz in [
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "America/New_York",
            "Europe/Berlin",
        ] {
            let mut d = doctor(tz);
            d.weekly_hours = WeeklyHours::every(
                &[Weekday::Mon],
                NaiveTime::from_hms_opt(0, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(23, 30, 0).unwrap(),
            )
            .unwrap();
            let day = date("2026-06-15");
            let (from, to) = d
                .bookable_utc_range_of(day, utc("2026-06-01T00:00:00Z"))
                .unwrap();
            for s in d.slots_on(day) {
                assert!(
                    s.start >= from && s.end <= to,
                    "{tz}: {s:?} outside {from}..{to}"
                );
            }
        }
    }
}
