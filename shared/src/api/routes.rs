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

/// The route table, written once: [`all`] lists it (the local server, the tests) and
/// [`served_by`] picks one route out of it at compile time (the functions).
macro_rules! route_table {
    ($(route!($function:literal, $method:ident, $path:literal, $handler:path $(,)?)),* $(,)?) => {
        pub fn all() -> Vec<Route> {
            vec![$(route!($function, $method, $path, $handler)),*]
        }

        /// The route `function` serves. Evaluated at compile time in a function's `main`
        /// (`const { routes::served_by(env!("CARGO_PKG_NAME")) }`), so the binary refers to its
        /// own handler only and link-time optimisation drops every other handler and whatever
        /// only they use. A function with no route fails to build.
        pub const fn served_by(function: &str) -> Route {
            $(
                if same(function, $function) {
                    return route!($function, $method, $path, $handler);
                }
            )*
            panic!("no route is served by this function")
        }
    };
}

route_table! {
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
}

/// `a == b` for `&str`, usable in a `const fn`.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
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

    #[test]
    fn a_function_picks_the_same_route_from_the_table_at_compile_time() {
        const BOOK: Route = served_by("book-appointment");
        assert_eq!(
            (BOOK.method, BOOK.path),
            (Method::POST, "/api/appointments")
        );
        for route in all() {
            let picked = served_by(route.function);
            assert_eq!(
                (picked.function, picked.method, picked.path),
                (route.function, route.method, route.path)
            );
        }
        assert!(!same("list-slots", "list-slot") && same("", ""));
    }
}
