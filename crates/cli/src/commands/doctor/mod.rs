//! `lxpack doctor`: the seed's system requirements, checked one by one, each failure
//! with its fix. It never stops at the first failure: an operator setting up a host
//! wants the whole list at once.

mod checks;
mod daemon;
mod host;
mod isolation;

use serde_json::json;

use super::output::{print_json, print_line};
use crate::args::Cli;
use crate::exit::{CliError, ExitClass};

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Fine.
    Pass(String),
    /// Works, but worth knowing.
    Warn(String),
    /// Broken; the fix.
    Fail {
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// Not checked, because an earlier check failed.
    Skipped(String),
}

/// One named check and its verdict.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) verdict: Verdict,
}

/// Runs every check and prints the list.
pub(crate) async fn run(cli: &Cli) -> Result<(), CliError> {
    let checks = checks::run_all(cli).await;
    let failed = checks
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail { .. }))
        .count();
    if cli.json {
        print_json(&json!({
            "event": "result",
            "checks": checks.iter().map(|c| {
                let (status, detail, fix) = match &c.verdict {
                    Verdict::Pass(d) => ("pass", d.clone(), None),
                    Verdict::Warn(d) => ("warn", d.clone(), None),
                    Verdict::Fail { problem, fix } => ("fail", problem.clone(), Some(fix.clone())),
                    Verdict::Skipped(d) => ("skipped", d.clone(), None),
                };
                json!({"check": c.name, "status": status, "detail": detail, "fix": fix})
            }).collect::<Vec<_>>(),
            "failed": failed,
        }));
    } else {
        for check in &checks {
            match &check.verdict {
                Verdict::Pass(detail) => print_line(&format!("ok    {}: {detail}", check.name)),
                Verdict::Warn(detail) => print_line(&format!("warn  {}: {detail}", check.name)),
                Verdict::Fail { problem, fix } => {
                    print_line(&format!("FAIL  {}: {problem}", check.name));
                    print_line(&format!("      fix: {fix}"));
                }
                Verdict::Skipped(why) => print_line(&format!("skip  {}: {why}", check.name)),
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(
            CliError::new(ExitClass::Doctor, format!("{failed} check(s) failed"))
                .with_hint("apply the fixes above, then run `lxpack doctor` again"),
        )
    }
}
