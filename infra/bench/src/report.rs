//! The one table the benchmark prints: a row per measure and subject, with the figure, the target
//! it is held against, and whether it met it. Markdown, so a run pastes into the docs as it is.

use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// A figure without a target of its own (a baseline, context).
    Info,
    /// Not measured in this run (quick mode, a tool missing); the figure says why.
    Skipped,
}

impl Verdict {
    pub fn from_check(met: bool) -> Self {
        if met {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Info => "",
            Verdict::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub measure: String,
    pub subject: String,
    pub result: String,
    pub target: String,
    pub verdict: Verdict,
}

#[derive(Debug, Default)]
pub struct Table {
    pub rows: Vec<Row>,
    /// A quick run measures too little to hold anything against a target: its verdicts print as
    /// "not judged" and nothing counts as missed.
    pub quick: bool,
}

impl Table {
    pub fn add(
        &mut self,
        measure: &str,
        subject: &str,
        result: impl Into<String>,
        target: &str,
        verdict: Verdict,
    ) {
        self.rows.push(Row {
            measure: measure.to_owned(),
            subject: subject.to_owned(),
            result: result.into(),
            target: target.to_owned(),
            verdict,
        });
    }

    pub fn missed(&self) -> usize {
        if self.quick {
            return 0;
        }
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Missed)
            .count()
    }

    pub fn markdown(&self) -> String {
        let header = ["measure", "subject", "result", "target", "verdict"];
        let cells: Vec<[&str; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.measure.as_str(),
                    r.subject.as_str(),
                    r.result.as_str(),
                    r.target.as_str(),
                    match r.verdict {
                        Verdict::Met | Verdict::Missed if self.quick => "not judged",
                        v => v.label(),
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, row: &[&str; 5]| {
            out.push('|');
            for (c, w) in row.iter().zip(widths) {
                let pad = w - c.chars().count();
                let _ = write!(out, " {c}{} |", " ".repeat(pad));
            }
            out.push('\n');
        };
        line(&mut out, &header);
        out.push('|');
        for w in widths {
            let _ = write!(out, "{}|", "-".repeat(w + 2));
        }
        out.push('\n');
        for row in &cells {
            line(&mut out, row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_aligned_markdown_and_counts_misses() {
        let mut t = Table::default();
        t.add("cold init", "hello", "3.10 ms", "baseline", Verdict::Info);
        t.add(
            "size",
            "book-appointment",
            "4.2 MB",
            "≤ 4 MB",
            Verdict::Missed,
        );
        let md = t.markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[1].starts_with("|--"));
        let widths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{md}");
        assert!(md.contains("MISSED"));
        assert_eq!(t.missed(), 1);
        t.quick = true;
        assert!(!t.markdown().contains("MISSED"));
        assert_eq!(t.missed(), 0);
    }
}
