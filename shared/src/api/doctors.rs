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
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| ApiError::BadRequest("date: must be a calendar date as YYYY-MM-DD".into()))?;
    let (from, to) = doctor.utc_range_of(date);
    let taken = deps.appointments.taken_slots(&doctor.id, from, to).await?;
    let slots = doctor.free_slots_on(date, deps.clock.now(), &taken);
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

/// A doctor by the id in a path; an id that cannot exist is simply not found.
async fn find_doctor(deps: &Deps, raw_id: &str) -> Result<Doctor, ApiError> {
    let id = UserId::parse(raw_id).map_err(|_| ApiError::NotFound("doctor"))?;
    deps.directory
        .get_doctor(&id)
        .await?
        .ok_or(ApiError::NotFound("doctor"))
}
