//! Results on stdout: aligned tables for people, one JSON document for machines. A
//! closed pipe (`lxpack jobs | head`) is not an error worth reporting.

use std::io::Write as _;

/// Prints `value` as one line of JSON.
pub(crate) fn print_json(value: &serde_json::Value) {
    let _ = writeln!(std::io::stdout().lock(), "{value}");
}

/// Prints a line.
pub(crate) fn print_line(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Prints rows under `headers`, each column as wide as its widest cell.
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) {
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
