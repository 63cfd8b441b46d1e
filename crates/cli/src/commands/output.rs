//! Results on stdout: aligned tables for people, one JSON document for machines. A
//! closed pipe (`lxpack jobs | head`) is not an error worth reporting.

use std::io::Write as _;

/// Prints `value` as one line of JSON.
pub(crate) fn print_json(value: &serde_json::Value) {
    let _ = writeln!(std::io::stdout().lock(), "{value}");
}

/// Writes `bytes` to stdout as they are. A closed pipe is not an error.
///
/// # Errors
/// Any other write error, for the caller to report.
pub(crate) fn print_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Prints a line.
pub(crate) fn print_line(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The widest a column other than the last gets: one long value (an app name of 200
/// characters) must not push every row's other columns off the screen.
const MAX_COLUMN: usize = 40;

/// `cell` cut to `width` characters, its end replaced by `…` when cut.
fn fit(cell: &str, width: usize) -> String {
    if cell.chars().count() <= width {
        cell.to_owned()
    } else {
        let mut cut: String = cell.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Prints rows under `headers`, each column as wide as its widest cell, at most
/// [`MAX_COLUMN`] (the last column is never cut).
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let last = row.len().saturating_sub(1);
            row.iter()
                .enumerate()
                .map(|(index, cell)| {
                    if index == last {
                        cell.clone()
                    } else {
                        fit(cell, MAX_COLUMN)
                    }
                })
                .collect()
        })
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let render = |cells: &mut dyn Iterator<Item = &str>| {
        let mut line = String::new();
        for (index, (cell, width)) in cells.zip(&widths).enumerate() {
            if index + 1 == widths.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        line.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", render(&mut headers.iter().copied()));
    for row in rows {
        let _ = writeln!(out, "{}", render(&mut row.iter().map(String::as_str)));
    }
}

/// A time as `YYYY-MM-DD HH:MM:SS` UTC.
pub(crate) fn utc(time: std::time::SystemTime) -> String {
    lxpack_core::domain::UtcDateTime::of(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_cut_with_an_ellipsis() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("abcdefghij", 10), "abcdefghij");
        assert_eq!(fit("abcdefghijk", 10), "abcdefghi…");
        assert_eq!(fit(&"é".repeat(50), MAX_COLUMN).chars().count(), MAX_COLUMN);
    }
}
