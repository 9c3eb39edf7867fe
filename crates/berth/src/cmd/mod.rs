//! One module per group of commands.

pub mod config;
pub mod cp;
pub mod exec;
pub mod files;
pub mod images;
pub mod lifecycle;
pub mod mount_opt;
pub mod observe;
pub mod run;
pub mod session;
pub mod stats;
pub mod volumes;

use std::io::{self, Read, Write};

use crate::api::{CliError, Result};
use crate::template::Format;

/// Prints rows through a `--format` (or the default table).
pub fn print_rows(format: &str, header: &[(&str, &str)], rows: &[gtmpl::Value]) -> Result<()> {
    let text = Format::new(format)
        .render(header, rows)
        .map_err(CliError::msg)?;
    run::print_out(&text)?;
    Ok(())
}

/// docker's `--filter k=v` list as the API's `filters` JSON (`{"k":{"v":true}}`).
pub fn filters_json(filters: &[String]) -> Result<Option<String>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| CliError::msg(format!("invalid filter '{f}'")))?;
        let entry = map
            .entry(k.trim().to_lowercase())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let serde_json::Value::Object(values) = entry {
            values.insert(v.to_string(), serde_json::Value::Bool(true));
        }
    }
    Ok(Some(serde_json::Value::Object(map).to_string()))
}

/// docker's refusal to write an archive to a terminal (save, export without `-o`).
pub fn refuse_terminal(output: Option<&str>) -> Result<()> {
    if output.is_none() && crate::term::is_tty(1) {
        return Err(CliError::msg(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        ));
    }
    Ok(())
}

/// Writes a download to the file `output` (through a temp file renamed into place, so that a
/// failed download leaves no partial file) or to stdout; errors start with `failure`.
pub fn write_output(reader: &mut dyn Read, output: Option<&str>, failure: &str) -> Result<()> {
    let Some(path) = output else {
        let mut out = io::stdout().lock();
        io::copy(reader, &mut out)?;
        out.flush()?;
        return Ok(());
    };
    let tmp = format!("{path}.berth-tmp");
    let mut f = std::fs::File::create(&tmp)
        .map_err(|e| CliError::msg(format!("{failure}: open {path}: {e}")))?;
    let copied = io::copy(reader, &mut f).and_then(|_| f.sync_all());
    if let Err(e) = copied.and_then(|_| std::fs::rename(&tmp, path)) {
        std::fs::remove_file(&tmp).ok();
        return Err(CliError::msg(format!("{failure}: {e}")));
    }
    Ok(())
}
