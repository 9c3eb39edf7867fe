//! `--format` as docker has it: Go templates (gtmpl) with docker's functions, the `table`
//! directive (a header row from the same template, aligned by the tab writer), `json`, and
//! `\t`/`\n` escapes in the format string.

use std::collections::HashMap;

use gtmpl::{Context, Func, FuncError, Template, Value};

use crate::tabwriter;

/// Turns a JSON value from the API into a template value.
pub fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            Value::Map(map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    }
}

/// Back to JSON, for the `json` function (keys come out sorted, as Go sorts map keys).
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::NoValue | Value::Nil | Value::Function(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                serde_json::Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Object(map) | Value::Map(map) => {
            let sorted: serde_json::Map<String, serde_json::Value> =
                map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            serde_json::Value::Object(sorted)
        }
    }
}

/// Go's `fmt.Sprint` for the values the templates print (arrays as `[a b]`, maps as `map[k:v]`).
pub fn go_string(value: &Value) -> String {
    match value {
        Value::NoValue => "<no value>".into(),
        Value::Nil => "<nil>".into(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_string).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(map) | Value::Map(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_string(&map[*k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

fn arg_string(args: &[Value], i: usize, name: &str) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::NoValue) | None => Err(FuncError::AtLeastXArgs(name.into(), i + 1)),
        Some(other) => Ok(go_string(other)),
    }
}

fn arg_int(args: &[Value], i: usize, name: &str) -> Result<i64, FuncError> {
    match args.get(i) {
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            FuncError::Generic(format!("{name}: argument {} is not an integer", i + 1))
        }),
        Some(Value::String(s)) => s.parse().map_err(|_| {
            FuncError::Generic(format!("{name}: argument {} is not an integer", i + 1))
        }),
        _ => Err(FuncError::ExactlyXArgs(name.into(), i + 1)),
    }
}

fn json_fn(args: &[Value]) -> Result<Value, FuncError> {
    let value = args
        .first()
        .ok_or_else(|| FuncError::ExactlyXArgs("json".into(), 1))?;
    serde_json::to_string(&to_json(value))
        .map(Value::String)
        .map_err(|e| FuncError::Generic(e.to_string()))
}

fn split_fn(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_string(args, 0, "split")?;
    let sep = arg_string(args, 1, "split")?;
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str())
            .map(|p| Value::String(p.to_string()))
            .collect()
    };
    Ok(Value::Array(parts))
}

fn join_fn(args: &[Value]) -> Result<Value, FuncError> {
    let sep = arg_string(args, 1, "join")?;
    match args.first() {
        None | Some(Value::Nil) | Some(Value::NoValue) => Ok(Value::String(String::new())),
        Some(Value::Array(items)) => {
            let parts: Vec<String> = items.iter().map(go_string).collect();
            Ok(Value::String(parts.join(&sep)))
        }
        Some(Value::Map(map)) | Some(Value::Object(map)) => {
            let mut parts: Vec<String> = map.values().map(go_string).collect();
            parts.sort();
            Ok(Value::String(parts.join(&sep)))
        }
        Some(other) => Err(FuncError::Generic(format!(
            "expected slice, got {}",
            go_string(other)
        ))),
    }
}

/// Go's deprecated `strings.Title`: upper-cases the first letter of each word.
pub fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_letter = false;
    for c in s.chars() {
        if !prev_letter {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

fn title_fn(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(title(&arg_string(args, 0, "title")?)))
}

fn lower_fn(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_string(args, 0, "lower")?.to_lowercase()))
}

fn upper_fn(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_string(args, 0, "upper")?.to_uppercase()))
}

fn pad_fn(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_string(args, 0, "pad")?;
    if s.is_empty() {
        return Ok(Value::String(s));
    }
    let prefix = arg_int(args, 1, "pad")?.max(0) as usize;
    let suffix = arg_int(args, 2, "pad")?.max(0) as usize;
    Ok(Value::String(format!(
        "{}{s}{}",
        " ".repeat(prefix),
        " ".repeat(suffix)
    )))
}

fn truncate_fn(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_string(args, 0, "truncate")?;
    let length = arg_int(args, 1, "truncate")?.max(0) as usize;
    if s.len() < length {
        return Ok(Value::String(s));
    }
    // Byte-based like Go, but never inside a character.
    let mut cut = length;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    Ok(Value::String(s[..cut].to_string()))
}

fn identity_fn(args: &[Value]) -> Result<Value, FuncError> {
    Ok(args.first().cloned().unwrap_or(Value::NoValue))
}

const BASIC_FUNCS: [(&str, Func); 8] = [
    ("json", json_fn),
    ("split", split_fn),
    ("join", join_fn),
    ("title", title_fn),
    ("lower", lower_fn),
    ("upper", upper_fn),
    ("pad", pad_fn),
    ("truncate", truncate_fn),
];

/// For the header row docker replaces every function but `pad` with the identity.
const HEADER_FUNCS: [(&str, Func); 8] = [
    ("pad", pad_fn),
    ("json", identity_fn),
    ("split", identity_fn),
    ("join", identity_fn),
    ("title", identity_fn),
    ("lower", identity_fn),
    ("upper", identity_fn),
    ("truncate", identity_fn),
];

const GO_STRING_FUNC: &str = "__berth_gostr";

fn gostr_fn(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(match args.first() {
        Some(Value::String(s)) => s.clone(),
        Some(v) => go_string(v),
        None => String::new(),
    }))
}

const CONTROL_WORDS: [&str; 10] = [
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// Wraps every printing action `{{X}}` as `{{__berth_gostr (X)}}`; control actions, comments
/// and variable declarations are left alone.
fn with_go_printing(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(len) = action_end(after) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..len];
        let (lead, body, trail) = split_trim_markers(inner);
        let word = body
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("");
        let declares =
            body.contains(":=") || (body.trim_start().starts_with('$') && body.contains(" = "));
        if body.trim().is_empty()
            || body.trim_start().starts_with("/*")
            || CONTROL_WORDS.contains(&word)
            || declares
        {
            out.push_str("{{");
            out.push_str(inner);
            out.push_str("}}");
        } else {
            out.push_str(&format!(
                "{{{{{lead}{GO_STRING_FUNC} ({}){trail}}}}}",
                body.trim()
            ));
        }
        rest = &after[len + 2..];
    }
    out.push_str(rest);
    out
}

/// Where the action's closing `}}` is, skipping quoted strings.
fn action_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' && q != b'`' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if b == b'"' || b == b'`' || b == b'\'' {
                    quote = Some(b);
                } else if b == b'}' && bytes.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

/// Separates the `- ` / ` -` whitespace-trim markers from an action's body.
fn split_trim_markers(inner: &str) -> (&str, &str, &str) {
    let (lead, rest) = match inner.strip_prefix("- ") {
        Some(rest) => ("- ", rest),
        None => ("", inner),
    };
    let (body, trail) = match rest.strip_suffix(" -") {
        Some(body) => (body, " -"),
        None => (rest, ""),
    };
    (lead, body, trail)
}

/// A parsed `--format` value.
pub struct Format {
    pub table: bool,
    text: String,
}

impl Format {
    /// `table`, `table TEMPLATE`, `json` or a raw template. `\t` and `\n` escapes are expanded.
    pub fn new(source: &str) -> Format {
        if source == "json" {
            return Format {
                table: false,
                text: "{{json .}}".into(),
            };
        }
        let (table, rest) = match source.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, source),
        };
        let text = rest
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        Format { table, text }
    }

    fn template(&self, funcs: &[(&str, Func)]) -> Result<Template, String> {
        // gtmpl prints arrays and maps in Rust's debug form; routing each printed value
        // through `gostr` prints them as Go does. If the rewrite does not parse, the
        // template is used as written.
        let mut template = Template::default();
        template.add_funcs(funcs);
        template.add_func(GO_STRING_FUNC, gostr_fn);
        if template.parse(with_go_printing(&self.text)).is_ok() {
            return Ok(template);
        }
        let mut template = Template::default();
        template.add_funcs(funcs);
        template
            .parse(self.text.as_str())
            .map_err(|e| format!("template parsing error: {e}"))?;
        Ok(template)
    }

    /// Renders one line per row, with a header row first for tables, aligned like docker.
    pub fn render(&self, header: &[(&str, &str)], rows: &[Value]) -> Result<String, String> {
        let template = self.template(&BASIC_FUNCS)?;
        let mut body = String::new();
        for row in rows {
            let line = template
                .render(&Context::from(row.clone()))
                .map_err(|e| format!("template parsing error: {e}"))?;
            body.push_str(&line);
            body.push('\n');
        }
        if !self.table {
            return Ok(body);
        }
        let header_template = self.template(&HEADER_FUNCS)?;
        let header_map: HashMap<String, Value> = header
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        // Fields without a header name (e.g. `.Label "x"`) are left empty, as docker does.
        let head = header_template
            .render(&Context::from(Value::Map(header_map)))
            .unwrap_or_default()
            .replace("<no value>", "");
        Ok(tabwriter::align(&format!("{head}\n{body}")))
    }

    /// One template applied to each value (inspect's `-f`): no header, no alignment.
    pub fn render_each(&self, values: &[Value]) -> Result<String, String> {
        self.render(&[], values)
    }
}

/// Builds a row map from name/value pairs.
pub fn row(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(format: &str, header: &[(&str, &str)], rows: Vec<Value>) -> String {
        Format::new(format).render(header, &rows).unwrap()
    }

    #[test]
    fn table_directive_adds_an_aligned_header() {
        let rows = vec![
            row(vec![("ID", "abc".into()), ("Names", "first".into())]),
            row(vec![("ID", "defghi".into()), ("Names", "x".into())]),
        ];
        let out = render(
            "table {{.ID}}\\t{{.Names}}",
            &[("ID", "CONTAINER ID"), ("Names", "NAMES")],
            rows,
        );
        assert_eq!(
            out,
            "CONTAINER ID   NAMES\nabc            first\ndefghi         x\n"
        );
    }

    #[test]
    fn raw_templates_have_no_header() {
        let rows = vec![row(vec![("ID", "abc".into())])];
        assert_eq!(render("{{.ID}}", &[("ID", "X")], rows), "abc\n");
    }

    #[test]
    fn docker_functions() {
        let rows = vec![row(vec![
            ("S", "a,b,c".into()),
            ("L", Value::Array(vec!["x".into(), "y".into()])),
        ])];
        let out = render(
            r#"{{join (split .S ",") "|"}} {{upper .S}} {{lower "AB"}} {{title "hello world"}} [{{pad "x" 1 2}}] {{truncate .S 3}} {{json .L}} {{join .L "-"}}"#,
            &[],
            rows,
        );
        assert_eq!(
            out,
            "a|b|c A,B,C ab Hello World [ x  ] a,b [\"x\",\"y\"] x-y\n"
        );
    }

    #[test]
    fn json_format_sorts_keys() {
        let rows = vec![row(vec![("b", 1i64.into()), ("a", "x".into())])];
        assert_eq!(render("json", &[], rows), "{\"a\":\"x\",\"b\":1}\n");
    }

    #[test]
    fn header_functions_are_identities_except_pad() {
        let rows = vec![row(vec![("ID", "abc".into())])];
        let out = render("table {{upper .ID}}|{{pad .ID 1 1}}", &[("ID", "ID")], rows);
        assert_eq!(out, "ID| ID \nABC| abc \n");
    }

    #[test]
    fn values_print_as_go_prints_them() {
        let rows = vec![row(vec![
            ("L", Value::Array(vec!["sh".into(), "-c".into()])),
            (
                "M",
                Value::Map([("k".to_string(), Value::from("v"))].into_iter().collect()),
            ),
            ("N", Value::Nil),
        ])];
        let out = render(
            "{{.L}} {{.M}} {{.N}} {{if .L}}yes{{end}} {{range .L}}<{{.}}>{{end}} {{- \" x\" -}} {{$v := .L}}{{len $v}}",
            &[],
            rows,
        );
        assert_eq!(out, "[sh -c] map[k:v] <nil> yes <sh><-c> x2\n");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Format::new("{{.ID").render(&[], &[]).is_err());
    }
}
