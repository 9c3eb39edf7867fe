//! The command line, parsed by hand: the monitor keeps every page it touches for the container's
//! whole life, and a parser library would be most of them.

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "usage: berth-shim --id ID --bundle DIR --state-dir DIR --runtime-root DIR
         [--runtime PATH [--runtime-arg ARG]...] [-i|--stdin] [-t|--tty]
         [--log-driver json-file|none] [--log-path FILE] [--sync-fd N]
         [--shim-log FILE] [--exit-timeout SECONDS]
       berth-shim cleanup --state-dir DIR";

/// What berthd asks of one shim.
#[derive(Debug, Clone)]
pub struct Config {
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    pub runtime_root: PathBuf,
    /// A runc-compatible binary to create the container with, instead of the library.
    pub runtime: Option<PathBuf>,
    /// Global flags for that binary, before its command (e.g. crun's --cgroup-manager=disabled).
    pub runtime_args: Vec<String>,
    pub stdin: bool,
    pub tty: bool,
    /// The json-file log; None for `--log-driver none`.
    pub log_path: Option<PathBuf>,
    /// Where the spawn report goes; None: our stdout as inherited.
    pub sync_fd: Option<i32>,
    pub shim_log: Option<PathBuf>,
    /// After the exit, delete the container on our own once this passes without a `delete`.
    pub exit_timeout: Option<Duration>,
}

pub enum Command {
    Run(Config),
    Cleanup { state_dir: PathBuf },
}

/// Parses argv (without the program name). Errors are one line for the spawn report.
pub fn parse(args: &[String]) -> Result<Command, String> {
    if args.first().map(String::as_str) == Some("cleanup") {
        let mut state_dir = None;
        let mut it = Args::new(&args[1..]);
        while let Some(flag) = it.next_flag()? {
            match flag.as_str() {
                "--state-dir" => state_dir = Some(absolute(&flag, it.value(&flag)?)?),
                other => return Err(format!("cleanup: unknown option {other:?}")),
            }
        }
        let state_dir = state_dir.ok_or("cleanup: --state-dir is required")?;
        return Ok(Command::Cleanup { state_dir });
    }
    let mut it = Args::new(args);
    let (mut id, mut bundle, mut state_dir, mut runtime_root) = (None, None, None, None);
    let mut config = Config {
        id: String::new(),
        bundle: PathBuf::new(),
        state_dir: PathBuf::new(),
        runtime_root: PathBuf::new(),
        runtime: None,
        runtime_args: Vec::new(),
        stdin: false,
        tty: false,
        log_path: None,
        sync_fd: None,
        shim_log: None,
        exit_timeout: None,
    };
    let mut log_driver = String::from("json-file");
    while let Some(flag) = it.next_flag()? {
        match flag.as_str() {
            "--id" => id = Some(it.value(&flag)?.to_string()),
            "--bundle" => bundle = Some(absolute(&flag, it.value(&flag)?)?),
            "--state-dir" => state_dir = Some(absolute(&flag, it.value(&flag)?)?),
            "--runtime-root" => runtime_root = Some(absolute(&flag, it.value(&flag)?)?),
            "--runtime" => config.runtime = Some(absolute(&flag, it.value(&flag)?)?),
            "--runtime-arg" => config.runtime_args.push(it.value(&flag)?.to_string()),
            "-i" | "--stdin" => config.stdin = true,
            "-t" | "--tty" => config.tty = true,
            "--log-driver" => log_driver = it.value(&flag)?.to_string(),
            "--log-path" => config.log_path = Some(absolute(&flag, it.value(&flag)?)?),
            "--log-max-size" | "--log-max-file" => {
                return Err(format!("{flag}: log rotation is not implemented yet"));
            }
            "--sync-fd" => {
                let v = it.value(&flag)?;
                let fd: i32 = v
                    .parse()
                    .map_err(|_| format!("--sync-fd {v:?}: not a number"))?;
                if fd < 0 {
                    return Err(format!("--sync-fd {fd}: not a descriptor"));
                }
                config.sync_fd = Some(fd);
            }
            "--shim-log" => config.shim_log = Some(absolute(&flag, it.value(&flag)?)?),
            "--exit-timeout" => {
                let v = it.value(&flag)?;
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("--exit-timeout {v:?}: not a number of seconds"))?;
                config.exit_timeout = Some(Duration::from_secs(secs));
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    config.id = id.ok_or("--id is required")?;
    berth_runtime_core::config::validate_id(&config.id).map_err(|e| e.to_string())?;
    config.bundle = bundle.ok_or("--bundle is required")?;
    config.state_dir = state_dir.ok_or("--state-dir is required")?;
    config.runtime_root = runtime_root.ok_or("--runtime-root is required")?;
    match log_driver.as_str() {
        "json-file" if config.log_path.is_none() => {
            return Err("--log-driver json-file needs --log-path".into());
        }
        "json-file" => {}
        "none" => config.log_path = None,
        other => return Err(format!("--log-driver {other:?}: use json-file or none")),
    }
    if config.runtime.is_none() && !config.runtime_args.is_empty() {
        return Err("--runtime-arg needs --runtime".into());
    }
    Ok(Command::Run(config))
}

/// The shim works from `/` (it must not keep a directory busy): every path is absolute.
fn absolute(flag: &str, value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if !path.is_absolute() {
        return Err(format!("{flag} {value:?}: must be an absolute path"));
    }
    Ok(path)
}

struct Args<'a> {
    rest: &'a [String],
    /// The value of a `--flag=value` just split off.
    inline: Option<&'a str>,
}

impl<'a> Args<'a> {
    fn new(rest: &'a [String]) -> Self {
        Args { rest, inline: None }
    }

    fn next_flag(&mut self) -> Result<Option<String>, String> {
        if let Some(v) = self.inline.take() {
            return Err(format!("unexpected value {v:?}"));
        }
        let Some((first, rest)) = self.rest.split_first() else {
            return Ok(None);
        };
        self.rest = rest;
        if !first.starts_with('-') {
            return Err(format!("unexpected argument {first:?}"));
        }
        match first.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                self.inline = Some(value);
                Ok(Some(flag.to_string()))
            }
            _ => Ok(Some(first.clone())),
        }
    }

    fn value(&mut self, flag: &str) -> Result<&'a str, String> {
        if let Some(v) = self.inline.take() {
            return Ok(v);
        }
        let (first, rest) = self
            .rest
            .split_first()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        self.rest = rest;
        Ok(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_a_full_line() {
        let line = "--id c1 --bundle /b --state-dir /s --runtime-root=/r -i -t --log-path /l \
                    --runtime /usr/sbin/runc --runtime-arg --x=y --sync-fd 3 --exit-timeout 5";
        let Ok(Command::Run(c)) = parse(&argv(line)) else {
            panic!("not parsed")
        };
        assert_eq!(c.id, "c1");
        assert_eq!(c.runtime_root, PathBuf::from("/r"));
        assert!(c.stdin && c.tty);
        assert_eq!(c.runtime_args, vec!["--x=y"]);
        assert_eq!(c.sync_fd, Some(3));
        assert_eq!(c.exit_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let base = "--id c1 --bundle /b --state-dir /s --runtime-root /r";
        for (extra, needle) in [
            ("", "needs --log-path"),
            ("--log-path rel", "absolute"),
            ("--log-driver none --log-max-size 10", "not implemented"),
            ("--log-driver syslog", "json-file or none"),
            ("--log-driver none --bogus", "unknown option"),
        ] {
            let Err(e) = parse(&argv(&format!("{base} {extra}"))) else {
                panic!("{extra} accepted")
            };
            assert!(e.contains(needle), "{extra}: {e}");
        }
        assert!(
            parse(&argv(
                "--id ../x --bundle /b --state-dir /s --runtime-root /r"
            ))
            .is_err()
        );
    }
}
