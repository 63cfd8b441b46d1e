//! A contract suite is only useful if a failure says which rule broke and how, and if
//! one broken rule does not hide the others: checks are collected, never thrown.

use std::fmt::{self, Debug, Display};
use std::future::Future;
use std::time::Duration;

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The implementation did what the contract says.
    Passed,
    /// It did not.
    Failed {
        /// What the contract asks for.
        expected: String,
        /// What came instead.
        got: String,
    },
}

/// One check of a contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `create_profile twice`.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl Check {
    /// True when it passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }
}

/// What a contract suite found: every check it made, in order.
///
/// Dropping a report ignores failures: call [`ContractReport::assert_passed`] in a
/// test, or inspect [`ContractReport::failures`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a report fails nothing until it is asserted"]
pub struct ContractReport {
    /// Which contract: `container runtime`, `app store`, `AMI catalog`.
    pub suite: &'static str,
    /// The checks, in the order they ran; cleanup checks come last.
    pub checks: Vec<Check>,
}

impl ContractReport {
    /// True when every check passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.checks.iter().all(Check::passed)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|check| !check.passed())
    }

    /// The check called `name`, if it ran.
    #[must_use]
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }

    /// Panics with every failure (check, expected, got) unless all checks passed.
    ///
    /// # Panics
    /// When a check failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{self}");
    }
}

impl Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        if failed == 0 {
            return write!(
                f,
                "{} contract: all {} checks passed",
                self.suite,
                self.checks.len()
            );
        }
        write!(
            f,
            "{} contract: {failed} of {} checks failed",
            self.suite,
            self.checks.len()
        )?;
        for check in self.failures() {
            if let Outcome::Failed { expected, got } = &check.outcome {
                write!(
                    f,
                    "\n  - {}\n      expected: {expected}\n      got:      {got}",
                    check.name
                )?;
            }
        }
        Ok(())
    }
}

/// Collects checks while a suite runs, and bounds every call so that an
/// implementation that never answers fails a check instead of hanging the suite.
pub(crate) struct Checker {
    report: ContractReport,
    limit: Duration,
}

impl Checker {
    /// Records a failure when the checks `outcome` comes from panicked before their end
    /// (the suite still cleans up after it).
    pub(crate) fn ran_to_the_end(&mut self, outcome: Result<(), impl std::fmt::Display>) {
        if let Err(panic) = outcome {
            self.fail(
                "the checks run to the end",
                "no panic",
                format!("panic: {panic}"),
            );
        }
    }

    pub(crate) fn new(suite: &'static str, limit: Duration) -> Self {
        Self {
            report: ContractReport {
                suite,
                checks: Vec::new(),
            },
            limit,
        }
    }

    pub(crate) fn pass(&mut self, name: &str) {
        self.report.checks.push(Check {
            name: name.to_owned(),
            outcome: Outcome::Passed,
        });
    }

    pub(crate) fn fail(&mut self, name: &str, expected: impl Display, got: impl Display) {
        self.report.checks.push(Check {
            name: name.to_owned(),
            outcome: Outcome::Failed {
                expected: expected.to_string(),
                got: got.to_string(),
            },
        });
    }

    /// Passes when `passed`; otherwise fails with `got` shown by `Debug`.
    pub(crate) fn that(
        &mut self,
        name: &str,
        passed: bool,
        expected: impl Display,
        got: impl Debug,
    ) {
        if passed {
            self.pass(name);
        } else {
            self.fail(name, expected, format!("{got:?}"));
        }
    }

    /// Passes when `got == expected`.
    pub(crate) fn equal<T: PartialEq + Debug>(&mut self, name: &str, expected: T, got: T) {
        let passed = got == expected;
        self.that(name, passed, format!("{expected:?}"), got);
    }

    /// Awaits `call` within the limit.
    pub(crate) async fn bounded<T>(&self, call: impl Future<Output = T>) -> Result<T, String> {
        tokio::time::timeout(self.limit, call)
            .await
            .map_err(|_| format!("no answer within {:?}", self.limit))
    }

    /// Passes when `call` succeeds, and returns its value.
    pub(crate) async fn ok<T, E: Debug>(
        &mut self,
        name: &str,
        call: impl Future<Output = Result<T, E>>,
    ) -> Option<T> {
        match self.bounded(call).await {
            Ok(Ok(value)) => {
                self.pass(name);
                Some(value)
            }
            Ok(Err(error)) => {
                self.fail(name, "success", format!("Err({error:?})"));
                None
            }
            Err(elapsed) => {
                self.fail(name, "success", elapsed);
                None
            }
        }
    }

    /// Passes when `call` fails with an error that `accept` takes.
    pub(crate) async fn err<T: Debug, E: Debug>(
        &mut self,
        name: &str,
        expected: &str,
        call: impl Future<Output = Result<T, E>>,
        accept: impl FnOnce(&E) -> bool,
    ) {
        match self.bounded(call).await {
            Ok(Err(error)) if accept(&error) => self.pass(name),
            Ok(Err(error)) => self.fail(name, expected, format!("Err({error:?})")),
            Ok(Ok(value)) => self.fail(name, expected, format!("Ok({value:?})")),
            Err(elapsed) => self.fail(name, expected, elapsed),
        }
    }

    pub(crate) fn finish(self) -> ContractReport {
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_are_collected_with_expected_and_got() {
        let mut checker = Checker::new("demo", Duration::from_secs(5));
        checker.pass("first");
        checker.equal("second", 1, 2);
        let value = checker.ok("third", async { Ok::<_, String>(7) }).await;
        assert_eq!(value, Some(7));
        checker
            .err("fourth", "an error", async { Ok::<_, String>(()) }, |_| {
                true
            })
            .await;
        checker
            .ok("fifth", std::future::pending::<Result<(), String>>())
            .await;
        let report = checker.finish();
        assert!(!report.passed());
        let failed: Vec<&str> = report.failures().map(|check| check.name.as_str()).collect();
        assert_eq!(failed, ["second", "fourth", "fifth"]);
        let text = report.to_string();
        assert!(
            text.starts_with("demo contract: 3 of 5 checks failed"),
            "{text}"
        );
        assert!(text.contains("expected: 1\n      got:      2"), "{text}");
        assert!(
            text.contains("expected: an error\n      got:      Ok(())"),
            "{text}"
        );
        assert!(text.contains("no answer within 5s"), "{text}");
        assert!(report.check("first").unwrap().passed());
    }

    #[test]
    #[should_panic(expected = "1 of 1 checks failed")]
    fn assert_passed_panics_with_the_failures() {
        let mut checker = Checker::new("demo", Duration::from_secs(1));
        checker.fail("broken", "a", "b");
        checker.finish().assert_passed();
    }

    #[test]
    fn a_clean_report_says_so() {
        let mut checker = Checker::new("demo", Duration::from_secs(1));
        checker.pass("fine");
        let report = checker.finish();
        report.assert_passed();
        assert_eq!(report.to_string(), "demo contract: all 1 checks passed");
    }
}
