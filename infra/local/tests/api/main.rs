//! API tests through the real local server on a free loopback port.

mod support;

mod authorization;
mod booking_story;
mod calendar_and_fhir;
mod concurrency;
mod errors;
mod hardening;
mod idempotency;
mod openapi;
mod profile_and_devices;
mod reminders;
mod site;
mod video_rooms;
mod video_tokens;
