//! One module per group of commands.

pub mod config;
pub mod images;
pub mod lifecycle;
pub mod mount_opt;
pub mod observe;
pub mod run;
pub mod stats;
pub mod volumes;

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
