//! `--mount type=…,source=…,target=…,…` into a `HostConfig.Mounts` entry, as docker CLI 28
//! parses it (a CSV record of `key=value` fields; its messages).

use serde_json::{Map, Value, json};

use crate::cmd::config::absolute_if_dotted;
use crate::units;

/// The fields of one CSV record: commas separate, double quotes group (`""` is a quote).
fn csv_fields(text: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
            text.len() + 1
        ));
    }
    fields.push(field);
    Ok(fields)
}

/// Go's strconv.ParseBool.
fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid value for {key}: {value}")),
    }
}

/// A `k=v` into `map` (a value without `=` maps to "").
fn set_on(map: &mut Map<String, Value>, item: &str) {
    let (k, v) = item.split_once('=').unwrap_or((item, ""));
    if !k.is_empty() {
        map.insert(k.to_string(), json!(v));
    }
}

#[derive(Default)]
struct Spec {
    kind: Option<String>,
    source: String,
    target: String,
    read_only: bool,
    consistency: String,
    bind: Option<Map<String, Value>>,
    volume: Option<VolumeSpec>,
    tmpfs: Option<Map<String, Value>>,
}

/// The `volume-*` fields.
#[derive(Default)]
struct VolumeSpec {
    no_copy: bool,
    labels: Map<String, Value>,
    options: Map<String, Value>,
    driver: String,
}

impl Spec {
    fn volume(&mut self) -> &mut VolumeSpec {
        self.volume.get_or_insert_with(Default::default)
    }
}

/// One `--mount` value as the API's `Mount` object.
pub fn parse(value: &str) -> Result<Value, String> {
    let mut spec = Spec::default();
    for field in csv_fields(value)? {
        let Some((key, val)) = field.split_once('=') else {
            match field.to_lowercase().as_str() {
                "readonly" | "ro" => spec.read_only = true,
                "volume-nocopy" => spec.volume().no_copy = true,
                "bind-nonrecursive" => {
                    spec.bind
                        .get_or_insert_with(Map::new)
                        .insert("NonRecursive".into(), json!(true));
                }
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let key = key.to_lowercase();
        match key.as_str() {
            "type" => spec.kind = Some(val.to_lowercase()),
            "source" | "src" => spec.source = absolute_if_dotted(val),
            "target" | "dst" | "destination" => spec.target = val.to_string(),
            "readonly" | "ro" => spec.read_only = parse_bool(&key, val)?,
            "consistency" => spec.consistency = val.to_lowercase(),
            "bind-propagation" => {
                spec.bind
                    .get_or_insert_with(Map::new)
                    .insert("Propagation".into(), json!(val.to_lowercase()));
            }
            "bind-nonrecursive" => {
                if parse_bool(&key, val)? {
                    spec.bind
                        .get_or_insert_with(Map::new)
                        .insert("NonRecursive".into(), json!(true));
                }
            }
            "volume-nocopy" => {
                spec.volume().no_copy = parse_bool(&key, val)
                    .map_err(|_| format!("invalid value for volume-nocopy: {val}"))?
            }
            "volume-label" => set_on(&mut spec.volume().labels, val),
            "volume-driver" => spec.volume().driver = val.to_string(),
            "volume-opt" => set_on(&mut spec.volume().options, val),
            "tmpfs-size" => {
                let size = units::ram_in_bytes(val)
                    .map_err(|_| format!("invalid value for {key}: {val}"))?;
                spec.tmpfs
                    .get_or_insert_with(Map::new)
                    .insert("SizeBytes".into(), json!(size));
            }
            "tmpfs-mode" => {
                let mode = u32::from_str_radix(val, 8)
                    .map_err(|_| format!("invalid value for {key}: {val}"))?;
                spec.tmpfs
                    .get_or_insert_with(Map::new)
                    .insert("Mode".into(), json!(mode));
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    let kind = spec.kind.clone().unwrap_or_else(|| "volume".into());
    if kind.is_empty() {
        return Err("type is required".into());
    }
    if spec.target.is_empty() {
        return Err("target is required".into());
    }
    for (present, prefix, wanted) in [
        (spec.volume.is_some(), "volume", "volume"),
        (spec.bind.is_some(), "bind", "bind"),
        (spec.tmpfs.is_some(), "tmpfs", "tmpfs"),
    ] {
        if present && kind != wanted {
            return Err(format!(
                "cannot mix '{prefix}-*' options with mount type '{kind}'"
            ));
        }
    }
    let mut out = json!({"Type": kind});
    if !spec.source.is_empty() {
        out["Source"] = json!(spec.source);
    }
    out["Target"] = json!(spec.target);
    if spec.read_only {
        out["ReadOnly"] = json!(true);
    }
    if !spec.consistency.is_empty() {
        out["Consistency"] = json!(spec.consistency);
    }
    if let Some(bind) = spec.bind {
        out["BindOptions"] = Value::Object(bind);
    }
    if let Some(v) = spec.volume {
        let mut driver_config = Map::new();
        if !v.driver.is_empty() {
            driver_config.insert("Name".into(), json!(v.driver));
        }
        if !v.options.is_empty() {
            driver_config.insert("Options".into(), Value::Object(v.options));
        }
        let mut volume = Map::new();
        if v.no_copy {
            volume.insert("NoCopy".into(), json!(true));
        }
        if !v.labels.is_empty() {
            volume.insert("Labels".into(), Value::Object(v.labels));
        }
        volume.insert("DriverConfig".into(), Value::Object(driver_config));
        out["VolumeOptions"] = Value::Object(volume);
    }
    if let Some(tmpfs) = spec.tmpfs {
        out["TmpfsOptions"] = Value::Object(tmpfs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_the_api_object_docker_sends() {
        assert_eq!(
            parse("type=volume,src=m1,dst=/m1,volume-nocopy").unwrap(),
            json!({"Type": "volume", "Source": "m1", "Target": "/m1",
                   "VolumeOptions": {"NoCopy": true, "DriverConfig": {}}})
        );
        assert_eq!(
            parse("type=bind,source=/h,target=/b,readonly,bind-propagation=rslave").unwrap(),
            json!({"Type": "bind", "Source": "/h", "Target": "/b", "ReadOnly": true,
                   "BindOptions": {"Propagation": "rslave"}})
        );
        assert_eq!(
            parse("dst=/v,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=k=v").unwrap(),
            json!({"Type": "volume", "Target": "/v", "VolumeOptions": {
                "Labels": {"k": "v"},
                "DriverConfig": {"Options": {"type": "tmpfs", "device": "tmpfs"}}}})
        );
        assert_eq!(
            parse("\"type=tmpfs\",destination=/t,ro=true").unwrap(),
            json!({"Type": "tmpfs", "Target": "/t", "ReadOnly": true})
        );
    }

    #[test]
    fn mistakes_get_docker_clis_messages() {
        let err = |v: &str| parse(v).unwrap_err();
        assert_eq!(err("type=volume"), "target is required");
        assert_eq!(err("type=,dst=/x"), "type is required");
        assert_eq!(err("dst=/x,foo=bar"), "unexpected key 'foo' in 'foo=bar'");
        assert_eq!(
            err("dst=/x,bogus"),
            "invalid field 'bogus' must be a key=value pair"
        );
        assert_eq!(err("dst=/x,ro=maybe"), "invalid value for ro: maybe");
        assert_eq!(
            err("type=tmpfs,dst=/x,tmpfs-mode=9"),
            "invalid value for tmpfs-mode: 9"
        );
        assert_eq!(
            err("type=bind,src=/tmp,dst=/x,volume-nocopy"),
            "cannot mix 'volume-*' options with mount type 'bind'"
        );
        assert_eq!(
            err("type=volume,src=ab,dst=/x,tmpfs-size=1m"),
            "cannot mix 'tmpfs-*' options with mount type 'volume'"
        );
    }
}
