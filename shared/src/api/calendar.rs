//! "Add to calendar": an appointment as an RFC 5545 iCalendar object. The UID stays the same for
//! the appointment's whole life, SEQUENCE grows with every change (it is the version less one,
//! so a new booking starts at 0), and a cancelled appointment is sent as `METHOD:CANCEL` with
//! `STATUS:CANCELLED` so calendar apps remove it.
//!
//! Calendars sync to third-party services, so the event carries no names, no reason and no
//! diagnosis: only the time and a link back into MediChain (minimum necessary).

use chrono::{DateTime, Utc};
use http::{header, HeaderValue, StatusCode};

use super::appointments::load_for_participant;
use super::video::settle_if_due;
use super::{ApiError, ApiRequest, ApiResponse, Deps};
use crate::domain::reminder::appointment_path;
use crate::domain::{Appointment, AppointmentStatus, Role};

/// Lines longer than this many octets are folded (RFC 5545 section 3.1).
const MAX_LINE_OCTETS: usize = 75;
/// The reminder the calendar app shows, before the start.
const ALARM_BEFORE: &str = "-PT15M";

fn ics_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value (RFC 5545 section 3.3.11).
fn escape_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets without splitting a UTF-8 character, with CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut octets = 0;
    let mut limit = MAX_LINE_OCTETS;
    for c in line.chars() {
        if octets + c.len_utf8() > limit {
            out.push_str("\r\n ");
            octets = 0;
            // A continuation line's leading space counts towards its 75 octets.
            limit = MAX_LINE_OCTETS - 1;
        }
        out.push(c);
        octets += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The iCalendar object for `a` as `role` sees it, stamped `now`.
pub fn render(a: &Appointment, role: Role, site_url: &str, now: DateTime<Utc>) -> String {
    let cancelled = a.status == AppointmentStatus::Cancelled;
    let link = format!("{site_url}{}", appointment_path(role, &a.id));
    let host = site_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|h| !h.is_empty())
        .unwrap_or("medichain.invalid");
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//MediChain//Video Consultations//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        format!("METHOD:{}", if cancelled { "CANCEL" } else { "PUBLISH" }),
        "BEGIN:VEVENT".into(),
        format!("UID:{}@{host}", a.id),
        format!("DTSTAMP:{}", ics_time(now)),
        format!("SEQUENCE:{}", a.version.saturating_sub(1)),
        format!("DTSTART:{}", ics_time(a.start)),
        format!("DTEND:{}", ics_time(a.end)),
        format!("SUMMARY:{}", escape_text("MediChain video consultation")),
        format!(
            "DESCRIPTION:{}",
            escape_text(&format!(
                "Join the video consultation from MediChain: {link}\nThe video room opens 15 minutes before the start."
            ))
        ),
        format!("LOCATION:{}", escape_text(&link)),
        format!("URL:{link}"),
        format!("ORGANIZER;CN=MediChain:mailto:no-reply@{host}"),
        format!(
            "STATUS:{}",
            if cancelled { "CANCELLED" } else { "CONFIRMED" }
        ),
        "TRANSP:OPAQUE".into(),
        format!("LAST-MODIFIED:{}", ics_time(a.updated_at)),
    ];
    if !cancelled {
        lines.extend([
            "BEGIN:VALARM".into(),
            "ACTION:DISPLAY".into(),
            format!("TRIGGER:{ALARM_BEFORE}"),
            format!(
                "DESCRIPTION:{}",
                escape_text("MediChain video consultation in 15 minutes")
            ),
            "END:VALARM".into(),
        ]);
    }
    lines.extend(["END:VEVENT".into(), "END:VCALENDAR".into()]);
    let mut out = String::new();
    for line in &lines {
        push_line(&mut out, line);
    }
    out
}

/// `GET /api/appointments/{id}/calendar.ics`: the appointment for the caller's calendar app.
pub async fn calendar(deps: &Deps, req: ApiRequest) -> Result<ApiResponse, ApiError> {
    let caller = req.caller()?;
    let appointment = load_for_participant(deps, caller, req.path_param("id")?).await?;
    let appointment = settle_if_due(deps, appointment).await?;
    super::audit::record_read(
        deps,
        caller,
        crate::domain::audit::AuditAction::Exported,
        &[appointment.id],
    )
    .await?;
    let role = super::video::role_in(&appointment, caller);
    let body = render(&appointment, role, &deps.config.site_url, deps.clock.now());
    let method = if appointment.status == AppointmentStatus::Cancelled {
        "CANCEL"
    } else {
        "PUBLISH"
    };
    let mut r = ApiResponse::new(StatusCode::OK, body.into());
    let content_type = format!("text/calendar; charset=utf-8; method={method}");
    r.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).map_err(ApiError::internal)?,
    );
    r.headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"medichain-appointment.ics\""),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::domain::appointment::tests::sample;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, h, m, 0).unwrap()
    }

    #[test]
    fn lines_end_with_crlf_and_fold_at_75_octets_without_breaking_characters() {
        let mut out = String::new();
        let long = format!("DESCRIPTION:{}", "é".repeat(100));
        push_line(&mut out, &long);
        assert!(out.ends_with("\r\n"));
        for line in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long);
    }

    #[test]
    fn text_values_are_escaped() {
        assert_eq!(escape_text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn a_booked_appointment_is_published_with_an_alarm_and_no_personal_data() {
        let mut a = sample(t(10, 0));
        a.reason = Some(crate::domain::appointment::Reason::parse("chest pain").unwrap());
        let ics = render(&a, Role::Patient, "https://app.example.org", t(8, 0));
        assert!(ics.contains("METHOD:PUBLISH\r\n"));
        assert!(ics.contains(&format!("UID:{}@app.example.org\r\n", a.id)));
        assert!(ics.contains("SEQUENCE:0\r\n"));
        assert!(ics.contains("DTSTART:20300304T100000Z\r\n"));
        assert!(ics.contains("DTEND:20300304T103000Z\r\n"));
        assert!(ics.contains("DTSTAMP:20300304T080000Z\r\n"));
        assert!(ics.contains("BEGIN:VALARM\r\n"));
        assert!(ics.contains("TRIGGER:-PT15M\r\n"));
        assert!(ics.contains("STATUS:CONFIRMED\r\n"));
        for private in ["chest pain", "Ada", "Pat Example", "Example"] {
            assert!(!ics.contains(private), "{private} leaked");
        }
        assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF");
    }

    #[test]
    fn a_cancelled_appointment_is_a_cancel_with_a_higher_sequence() {
        let a = sample(t(10, 0));
        let c = a.cancelled(Role::Doctor, t(8, 0)).unwrap();
        let ics = render(&c, Role::Doctor, "http://127.0.0.1:3000", t(8, 1));
        assert!(ics.contains("METHOD:CANCEL\r\n"));
        assert!(ics.contains("STATUS:CANCELLED\r\n"));
        assert!(ics.contains("SEQUENCE:1\r\n"));
        assert!(ics.contains(&format!("UID:{}@127.0.0.1\r\n", a.id)));
        assert!(!ics.contains("VALARM"));
    }
}
