//! Which AWS SDK clients a built binary really contains, read from the binary itself: each SDK's
//! endpoint rules keep its service's host prefix as a string, which link-time optimisation
//! removes along with the client when a function never uses it.

const MARKERS: [(&str, &str); 6] = [
    ("dynamodb", "https://dynamodb."),
    ("scheduler", "https://scheduler."),
    ("sns", "https://sns."),
    ("eventbridge", "https://events."),
    ("ssm", "https://ssm."),
    ("sts", "https://sts."),
];

/// The services whose marker occurs in `binary`.
pub fn services_in(binary: &[u8]) -> Vec<&'static str> {
    MARKERS
        .iter()
        .filter(|(_, marker)| contains(binary, marker.as_bytes()))
        .map(|(service, _)| *service)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_anywhere_in_the_bytes() {
        let bytes = b"\0\x01https://dynamodb.{Region}\0https://sns.x";
        assert_eq!(services_in(bytes), vec!["dynamodb", "sns"]);
        assert!(services_in(b"nothing here").is_empty());
    }
}
