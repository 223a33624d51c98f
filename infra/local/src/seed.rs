//! Demo data for a first start: two doctors in different time zones and two patients. All names
//! and numbers are fictional (555-01xx numbers are reserved for fiction).

use chrono::{NaiveTime, Weekday};
use medichain::domain::doctor::TimeZone;
use medichain::domain::user::PhoneNumber;
use medichain::domain::{Doctor, InvalidValue, Role, UserId, UserProfile, WeeklyHours};
use medichain::ports::{Directory, StoreError};

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

struct DemoDoctor {
    id: &'static str,
    name: &'static str,
    specialty: &'static str,
    time_zone: &'static str,
    phone: &'static str,
}

struct DemoPatient {
    id: &'static str,
    name: &'static str,
    time_zone: &'static str,
    phone: &'static str,
    sms_opt_in: bool,
}

const DOCTORS: &[DemoDoctor] = &[
    DemoDoctor {
        id: "doctor-okafor",
        name: "Amara Okafor",
        specialty: "General practice",
        time_zone: "America/New_York",
        phone: "+12125550101",
    },
    DemoDoctor {
        id: "doctor-becker",
        name: "Lukas Becker",
        specialty: "Dermatology",
        time_zone: "Europe/Berlin",
        phone: "+12125550102",
    },
];

const PATIENTS: &[DemoPatient] = &[
    DemoPatient {
        id: "patient-rivera",
        name: "Jordan Rivera",
        time_zone: "America/Chicago",
        phone: "+13125550103",
        sms_opt_in: true,
    },
    DemoPatient {
        id: "patient-schmidt",
        name: "Mia Schmidt",
        time_zone: "Europe/Berlin",
        phone: "+12125550104",
        sms_opt_in: false,
    },
];

fn invalid(e: InvalidValue) -> StoreError {
    StoreError::Corrupt(format!("demo data: {e}"))
}

/// Writes the demo users unless the directory has doctors already (data survives restarts).
pub async fn seed_if_empty(directory: &dyn Directory) -> Result<bool, StoreError> {
    if !directory.list_doctors().await?.is_empty() {
        return Ok(false);
    }
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
    let five = NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default();
    for d in DOCTORS {
        let id = UserId::parse(d.id).map_err(invalid)?;
        let time_zone = TimeZone::parse(d.time_zone).map_err(invalid)?;
        directory
            .put_doctor(&Doctor {
                id: id.clone(),
                name: d.name.into(),
                specialty: d.specialty.into(),
                time_zone,
                weekly_hours: WeeklyHours::every(&WEEKDAYS, nine, five).map_err(invalid)?,
                slot_minutes: 30,
            })
            .await?;
        directory
            .put_user(&UserProfile {
                id,
                role: Role::Doctor,
                name: d.name.into(),
                time_zone,
                phone: Some(PhoneNumber::parse(d.phone).map_err(invalid)?),
                sms_opt_in: true,
            })
            .await?;
    }
    for p in PATIENTS {
        directory
            .put_user(&UserProfile {
                id: UserId::parse(p.id).map_err(invalid)?,
                role: Role::Patient,
                name: p.name.into(),
                time_zone: TimeZone::parse(p.time_zone).map_err(invalid)?,
                phone: Some(PhoneNumber::parse(p.phone).map_err(invalid)?),
                sms_opt_in: p.sms_opt_in,
            })
            .await?;
    }
    Ok(true)
}

/// The ids of every demo user, doctors first.
pub fn demo_user_ids() -> impl Iterator<Item = &'static str> {
    DOCTORS
        .iter()
        .map(|d| d.id)
        .chain(PATIENTS.iter().map(|p| p.id))
}
