//! runc-style logging: `--log FILE` with `--log-format text|json`; containerd reads the json lines.

use crate::cli::LogFormat;
use std::io::Write;
use std::path::Path;

pub struct Logger {
    file: Option<std::fs::File>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    pub fn new(path: Option<&Path>, format: LogFormat, debug: bool) -> Self {
        let file = path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Logger {
            file,
            format,
            debug,
        }
    }

    pub fn error(&self, message: &str) {
        self.write("error", message);
    }

    pub fn debug(&self, message: &str) {
        if self.debug {
            self.write("debug", message);
        }
    }

    fn write(&self, level: &str, message: &str) {
        let Some(mut file) = self.file.as_ref() else {
            return;
        };
        let time = berth_runtime_core::state::now_rfc3339();
        let line = match self.format {
            LogFormat::Json => {
                serde_json::json!({"level": level, "msg": message, "time": time}).to_string()
            }
            LogFormat::Text => format!("time=\"{time}\" level={level} msg={message:?}"),
        };
        let _ = writeln!(file, "{line}");
    }
}
