//! Who is calling. API Gateway's JWT authorizer (or the local server's own sign-in) has already
//! checked the token; here its claims become a [`Caller`] with exactly one role.

use std::collections::HashMap;

use crate::domain::{Caller, Role, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthProblem {
    /// No token, or one that did not verify: 401.
    Unauthenticated(String),
    /// A valid token whose user is in neither (or both) of the groups `patients` and `doctors`: 403.
    NoRole,
}

/// Turns authorizer claims (`sub`, `name`, `cognito:groups`) into a caller.
pub fn caller_from_claims(claims: &HashMap<String, String>) -> Result<Caller, AuthProblem> {
    let sub = claims
        .get("sub")
        .ok_or_else(|| AuthProblem::Unauthenticated("the token has no subject".into()))?;
    let id = UserId::parse(sub)
        .map_err(|_| AuthProblem::Unauthenticated("the token's subject is not a user id".into()))?;
    let role = claims
        .get("cognito:groups")
        .and_then(|g| Role::from_groups_claim(g))
        .ok_or(AuthProblem::NoRole)?;
    let name = claims
        .get("name")
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .unwrap_or("MediChain user")
        .chars()
        .take(100)
        .collect();
    Ok(Caller { id, name, role })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn claims_from_api_gateway_become_a_caller() {
        let c = caller_from_claims(&claims(&[
            ("sub", "3f2c9a1e-0b7d-4c55-9a3e-1f2d3c4b5a69"),
            ("name", "Dana Doctor"),
            ("cognito:groups", "[doctors]"),
        ]))
        .unwrap();
        assert_eq!(c.role, Role::Doctor);
        assert_eq!(c.name, "Dana Doctor");
    }

    #[test]
    fn missing_subject_is_unauthenticated_and_missing_group_is_forbidden() {
        assert!(matches!(
            caller_from_claims(&claims(&[("cognito:groups", "[patients]")])),
            Err(AuthProblem::Unauthenticated(_))
        ));
        assert_eq!(
            caller_from_claims(&claims(&[("sub", "u1")])),
            Err(AuthProblem::NoRole)
        );
    }
}
