//! A cache's size is what the budget counts. btrfs, zfs and lvm pools tell it (the
//! volume's usage); a dir pool cannot, so when a budget is set the job measures its
//! copies itself, with `du` in its instance, before cleanup unmounts them.

use std::sync::{Mutex, PoisonError};

use crate::domain::{ExecRequest, InstanceName, OutputStream};
use crate::events::Event;
use crate::ports::OutputSink;
use crate::workflows::mechanics::job::JobContext;
use crate::workflows::mechanics::output_tail::OutputTail;

use super::JobCaches;

/// The most `du` output kept: one short line per cache (at most 16 of them).
const DU_OUTPUT_LIMIT: usize = 64 * 1024;

/// Keeps the end of a command's stdout.
struct Captured(Mutex<OutputTail>);

impl OutputSink for Captured {
    fn output(&self, stream: OutputStream, bytes: &[u8]) {
        if stream == OutputStream::Stdout {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(bytes);
        }
    }
}

/// The sizes `du -s -k` printed, in bytes, by path.
fn du_sizes(output: &str) -> Vec<(String, u64)> {
    output
        .lines()
        .filter_map(|line| {
            let (kib, path) = line.split_once('\t')?;
            Some((
                path.to_owned(),
                kib.trim().parse::<u64>().ok()?.saturating_mul(1024),
            ))
        })
        .collect()
}

impl JobCaches {
    /// Sets each copy's size: the daemon's figure, or, when it has none and a budget
    /// needs one, `du`'s in the instance. A size that cannot be had is a warning (the
    /// budget then counts the cache as empty).
    pub(crate) async fn measure(&mut self, job: &JobContext<'_>, instance: &InstanceName) {
        let (workflows, runner, copies) = (job.workflows, &job.runner, &mut self.copies);
        let Ok(volumes) = workflows.volume_port() else {
            return;
        };
        for copy in copies.iter_mut() {
            match volumes.volume_usage(&copy.mark.volume()).await {
                Ok(size) => copy.size = size,
                Err(error) => runner.events.emit(Event::Warning {
                    message: format!(
                        "could not read the size of cache {}: {error}",
                        copy.mark.key.path
                    ),
                }),
            }
        }
        let unknown: Vec<String> = copies
            .iter()
            .filter(|copy| copy.size.is_none())
            .map(|copy| copy.mark.key.path.to_string())
            .collect();
        if unknown.is_empty() || workflows.settings.cache.budget.is_none() {
            return;
        }
        let mut command = vec!["du".to_owned(), "-s".to_owned(), "-k".to_owned()];
        command.extend(unknown);
        let request = ExecRequest::new(command, workflows.settings.timeouts.hook);
        let output = Captured(Mutex::new(OutputTail::new(DU_OUTPUT_LIMIT)));
        let result = (workflows.ports.runtime)
            .exec(instance, &request, &output, runner.cancel)
            .await;
        let text = output
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .text();
        match result {
            Ok(0) => {
                for (path, size) in du_sizes(&text) {
                    if let Some(copy) = copies.iter_mut().find(|c| c.mark.key.path.as_str() == path) {
                        copy.size = Some(size);
                    }
                }
            }
            other => runner.events.emit(Event::Warning {
                message: format!(
                    "could not measure the caches with du ({}): lxpack.cache.budget counts them as empty",
                    match other {
                        Ok(code) => format!("exit code {code}"),
                        Err(error) => error.to_string(),
                    }
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn du_lines_are_read_as_bytes_by_path() {
        assert_eq!(
            du_sizes("12\t/root/.cache/pip\n0\t/srv/node_modules\nnonsense\n"),
            [
                ("/root/.cache/pip".to_owned(), 12 * 1024),
                ("/srv/node_modules".to_owned(), 0)
            ]
        );
    }
}
