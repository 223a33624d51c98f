//! The doctor directory and free slots: `GET /api/doctors`, `GET /api/doctors/{id}/slots`.

use chrono::NaiveDate;
use http::StatusCode;
use serde::Serialize;

use super::{ApiError, ApiRequest, ApiResponse, Deps};
use crate::domain::doctor::{Slot, TimeZone, WeeklyHours};
use crate::domain::{Doctor, UserId};

#[derive(Debug, Serialize)]
pub struct DoctorView {
    pub id: UserId,
    pub name: String,
    pub specialty: String,
    pub time_zone: TimeZone,
    pub slot_minutes: u32,
    pub weekly_hours: WeeklyHours,
}

impl From<Doctor> for DoctorView {
    fn from(d: Doctor) -> Self {
        Self {
            id: d.id,
            name: d.name,
            specialty: d.specialty,
            time_zone: d.time_zone,
            slot_minutes: d.slot_minutes,
            weekly_hours: d.weekly_hours,
        }
    }
}

#[derive(Debug, Serialize)]
struct DoctorList {
    items: Vec<DoctorView>,
}

#[derive(Debug, Serialize)]
pub struct SlotList {
    pub doctor_id: UserId,
    pub date: NaiveDate,
    pub time_zone: TimeZone,
    pub slots: Vec<Slot>,
}

pub async fn list_doctors(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    req.caller()?;
    let items = deps
        .directory
        .list_doctors()
        .await?
        .into_iter()
        .map(DoctorView::from)
        .collect();
    ApiResponse::json(StatusCode::OK, &DoctorList { items })
}

/// The doctor's free slots on a date of the doctor's own calendar.
pub async fn list_slots(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    req.caller()?;
    let doctor = find_doctor(deps, req.path_param("id")?).await?;
    let date = req
        .query_param("date")
        .ok_or_else(|| ApiError::BadRequest("date: required, as YYYY-MM-DD".into()))?;
    let date = parse_calendar_date(date).ok_or_else(|| {
        ApiError::BadRequest("date: must be a calendar date as YYYY-MM-DD".into())
    })?;
    let now = deps.clock.now();
    // A date nothing can be booked on has no free slots: no query, and no arithmetic on a date
    // at the ends of the calendar.
    let slots = match doctor.bookable_utc_range_of(date, now) {
        Some((from, to)) => {
            let taken = deps.appointments.taken_slots(&doctor.id, from, to).await?;
            doctor.free_slots_on(date, now, &taken)
        }
        None => Vec::new(),
    };
    ApiResponse::json(
        StatusCode::OK,
        &SlotList {
            doctor_id: doctor.id,
            date,
            time_zone: doctor.time_zone,
            slots,
        },
    )
}

/// `YYYY-MM-DD` exactly: chrono's `%Y` alone would also take signed years of up to six digits,
/// short years (`26-12-08`) and one-digit months and days.
fn parse_calendar_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    shape
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
}

/// A doctor by the id in a path; an id that cannot exist is simply not found.
async fn find_doctor(deps: &Deps, raw_id: &str) -> Result<Doctor, ApiError> {
    let id = UserId::parse(raw_id).map_err(|_| ApiError::NotFound("doctor"))?;
    deps.directory
        .get_doctor(&id)
        .await?
        .ok_or(ApiError::NotFound("doctor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_dates_are_four_digit_years_and_two_digit_months_and_days() {
        assert_eq!(
            parse_calendar_date("2026-12-08"),
            NaiveDate::from_ymd_opt(2026, 12, 8)
        );
        for bad in [
            "+262142-12-31",
            "-262143-01-01",
            "26-12-08",
            "2026-1-5",
            "  2026-12-08",
            "2026-12-08 ",
            "2026-02-30",
            "2026/12/08",
            "２０２６-12-08",
        ] {
            assert_eq!(parse_calendar_date(bad), None, "{bad:?}");
        }
    }
}
