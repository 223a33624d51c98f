//! The route table: every API route, the Lambda function that serves it in AWS, and its handler.
//! The local server mounts the same table; tests hold it against the OpenAPI document and the SAM
//! template.

use std::future::Future;
use std::pin::Pin;

use http::Method;

use super::{
    appointments, calendar, doctors, fhir, me, notifications, video, ApiError, ApiRequest,
    ApiResponse, Deps,
};

pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ApiResponse, ApiError>> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a Deps, ApiRequest) -> HandlerFuture<'a>;

pub struct Route {
    /// The function's directory under `functions/` (and its binary name).
    pub function: &'static str,
    pub method: Method,
    /// The path in API Gateway's syntax, `{name}` for a path parameter.
    pub path: &'static str,
    pub handler: Handler,
}

impl Route {
    /// Runs the handler and turns any error into its problem response.
    pub async fn call(&self, deps: &Deps, req: ApiRequest) -> ApiResponse {
        match (self.handler)(deps, req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    }
}

macro_rules! route {
    ($function:literal, $method:ident, $path:literal, $handler:path) => {{
        fn handler(deps: &Deps, req: ApiRequest) -> HandlerFuture<'_> {
            Box::pin($handler(deps, req))
        }
        Route {
            function: $function,
            method: Method::$method,
            path: $path,
            handler,
        }
    }};
}

pub fn all() -> Vec<Route> {
    vec![
        route!("list-doctors", GET, "/api/doctors", doctors::list_doctors),
        route!(
            "list-slots",
            GET,
            "/api/doctors/{id}/slots",
            doctors::list_slots
        ),
        route!(
            "book-appointment",
            POST,
            "/api/appointments",
            appointments::book
        ),
        route!(
            "list-appointments",
            GET,
            "/api/appointments",
            appointments::list
        ),
        route!(
            "get-appointment",
            GET,
            "/api/appointments/{id}",
            appointments::get
        ),
        route!(
            "cancel-appointment",
            POST,
            "/api/appointments/{id}/cancel",
            appointments::cancel
        ),
        route!(
            "reschedule-appointment",
            POST,
            "/api/appointments/{id}/reschedule",
            appointments::reschedule
        ),
        route!("join-call", GET, "/api/appointments/{id}/join", video::join),
        route!(
            "record-call-event",
            POST,
            "/api/appointments/{id}/call-events",
            video::call_event
        ),
        route!(
            "appointment-calendar",
            GET,
            "/api/appointments/{id}/calendar.ics",
            calendar::calendar
        ),
        route!(
            "appointment-fhir",
            GET,
            "/api/appointments/{id}/fhir",
            fhir::fhir
        ),
        route!(
            "list-notifications",
            GET,
            "/api/notifications",
            notifications::list
        ),
        route!(
            "mark-notification-read",
            POST,
            "/api/notifications/{id}/read",
            notifications::mark_read
        ),
        route!("get-profile", GET, "/api/me", me::get),
        route!("update-profile", PUT, "/api/me", me::update),
        route!(
            "register-device",
            POST,
            "/api/me/devices",
            me::register_device
        ),
        route!(
            "remove-device",
            DELETE,
            "/api/me/devices/{id}",
            me::remove_device
        ),
    ]
}

/// The route a function binary serves. Panics at cold start (never per request) on a typo.
pub fn for_function(function: &str) -> Route {
    all()
        .into_iter()
        .find(|r| r.function == function)
        .unwrap_or_else(|| panic!("no route is served by function {function:?}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_route_has_its_own_function_and_path() {
        let routes = all();
        let functions: HashSet<_> = routes.iter().map(|r| r.function).collect();
        let paths: HashSet<_> = routes.iter().map(|r| (r.method.clone(), r.path)).collect();
        assert_eq!(functions.len(), routes.len());
        assert_eq!(paths.len(), routes.len());
        assert!(routes.iter().all(|r| r.path.starts_with("/api/")));
    }
}
