//! OpenAI `tools` (and the legacy `functions`), `tool_choice` (and `function_call`), `parallel_tool_calls` and
//! `web_search_options` → Anthropic `tools` and `tool_choice`. A function's `strict` is kept (Anthropic's strict
//! tool use); `web_search_options` becomes Anthropic's web search server tool.

use serde_json::{json, Map, Value};

use super::field;
use crate::convert::errors::ConvertError;

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request(path, message)
}

/// Writes `tools` and `tool_choice`. Without any tool, `tool_choice` is left out (Anthropic, like OpenAI,
/// has nothing to choose from).
pub(super) fn put_tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    let mut tools = Vec::new();
    if let Some(list) = field(body, "tools") {
        let list = list.as_array().ok_or_else(|| invalid("tools", "must be an array"))?;
        for (i, tool) in list.iter().enumerate() {
            let path = format!("tools[{i}]");
            match tool.get("type").and_then(Value::as_str) {
                Some("function") | None => {}
                Some(other) => {
                    return Err(invalid(
                        format!("{path}.type"),
                        format!("tool type {other:?} is not supported for this provider; use function"),
                    ))
                }
            }
            let function = tool.get("function").ok_or_else(|| invalid(format!("{path}.function"), "is required"))?;
            tools.push(anthropic_tool(function, &format!("{path}.function"))?);
        }
    }
    if let Some(list) = field(body, "functions") {
        let list = list.as_array().ok_or_else(|| invalid("functions", "must be an array"))?;
        for (i, function) in list.iter().enumerate() {
            tools.push(anthropic_tool(function, &format!("functions[{i}]"))?);
        }
    }
    if let Some(options) = field(body, "web_search_options") {
        tools.push(web_search_tool(options)?);
    }
    if tools.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), Value::Array(tools));
    let choice = match (field(body, "tool_choice"), field(body, "function_call")) {
        (Some(choice), _) => Some(tool_choice(choice, "tool_choice")?),
        (None, Some(call)) => Some(tool_choice(call, "function_call")?),
        (None, None) => None,
    };
    let serial = match field(body, "parallel_tool_calls") {
        None => false,
        Some(Value::Bool(parallel)) => !parallel,
        Some(_) => return Err(invalid("parallel_tool_calls", "must be a boolean")),
    };
    let mut choice = match choice {
        Some(choice) => choice,
        None if serial => json!({"type": "auto"}),
        None => return Ok(()),
    };
    // `none` takes no options in Anthropic's API.
    if serial && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    out.insert("tool_choice".into(), choice);
    Ok(())
}

fn anthropic_tool(function: &Value, path: &str) -> Result<Value, ConvertError> {
    let function = function.as_object().ok_or_else(|| invalid(path, "must be an object"))?;
    let name = field(function, "name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid(format!("{path}.name"), "must be a non-empty string"))?;
    let schema = match field(function, "parameters") {
        None => json!({"type": "object", "properties": {}}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => return Err(invalid(format!("{path}.parameters"), "must be a JSON schema object")),
    };
    let mut tool = Map::new();
    tool.insert("name".into(), json!(name));
    if let Some(description) = field(function, "description").and_then(Value::as_str) {
        tool.insert("description".into(), json!(description));
    }
    tool.insert("input_schema".into(), schema);
    match field(function, "strict") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            tool.insert("strict".into(), json!(true));
        }
        Some(_) => return Err(invalid(format!("{path}.strict"), "must be a boolean")),
    }
    Ok(Value::Object(tool))
}

/// The name of the web search tool added for `web_search_options`.
pub const WEB_SEARCH_TOOL: &str = "web_search";

/// `web_search_options` → Anthropic's web search tool; the approximate `user_location` is kept,
/// `search_context_size` has no counterpart (dropped).
fn web_search_tool(options: &Value) -> Result<Value, ConvertError> {
    let options = options.as_object().ok_or_else(|| invalid("web_search_options", "must be an object"))?;
    let mut tool = json!({"type": "web_search_20250305", "name": WEB_SEARCH_TOOL});
    if let Some(location) = field(options, "user_location") {
        let approximate = location
            .get("approximate")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid("web_search_options.user_location.approximate", "must be an object"))?;
        let mut anthropic = Map::new();
        anthropic.insert("type".into(), json!("approximate"));
        for key in ["city", "region", "country", "timezone"] {
            if let Some(value) = field(approximate, key) {
                anthropic.insert(key.into(), value.clone());
            }
        }
        tool["user_location"] = Value::Object(anthropic);
    }
    Ok(tool)
}

/// `"none" | "auto" | "required"` or `{type:"function", function:{name}}` (`function_call`: `{name}`).
fn tool_choice(choice: &Value, path: &str) -> Result<Value, ConvertError> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(json!({"type": "auto"})),
            "none" => Ok(json!({"type": "none"})),
            "required" if path == "tool_choice" => Ok(json!({"type": "any"})),
            other => Err(invalid(path, format!("unknown value {other:?}; expected auto, none or required"))),
        },
        Value::Object(named) => {
            match named.get("type").and_then(Value::as_str) {
                None | Some("function") => {}
                Some("allowed_tools") => {
                    return Err(invalid(
                        format!("{path}.type"),
                        "allowed_tools is not supported by this provider; send only the allowed tools in tools, \
                         with tool_choice auto or required",
                    ))
                }
                Some(other) => {
                    return Err(invalid(
                        format!("{path}.type"),
                        format!("tool_choice type {other:?} is not supported by this provider; use function"),
                    ))
                }
            }
            let name = named
                .get("function")
                .and_then(|f| f.get("name"))
                .or_else(|| named.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("{path}.function.name"), "must be a string"))?;
            Ok(json!({"type": "tool", "name": name}))
        }
        _ => Err(invalid(path, "must be a string or an object naming a function")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(body: Value) -> Result<Map<String, Value>, ConvertError> {
        let mut out = Map::new();
        put_tools(body.as_object().unwrap(), &mut out)?;
        Ok(out)
    }

    const WEATHER: &str = r#"{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}"#;

    fn weather() -> Value {
        serde_json::from_str(WEATHER).unwrap()
    }

    #[test]
    fn functions_become_tools() {
        let out = convert(json!({"tools": [weather(), {"type": "function", "function": {"name": "noop"}}]})).unwrap();
        assert_eq!(
            out["tools"],
            json!([
                {"name": "get_weather", "description": "d", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
                {"name": "noop", "input_schema": {"type": "object", "properties": {}}},
            ])
        );
        assert!(!out.contains_key("tool_choice"));
    }

    #[test]
    fn choices_map_and_parallel_false_disables_parallel_use() {
        let choice = |c: Value, parallel: Value| {
            convert(json!({"tools": [weather()], "tool_choice": c, "parallel_tool_calls": parallel})).unwrap()
                ["tool_choice"]
                .clone()
        };
        assert_eq!(choice(json!("auto"), json!(true)), json!({"type": "auto"}));
        assert_eq!(choice(json!("required"), json!(null)), json!({"type": "any"}));
        assert_eq!(choice(json!("none"), json!(false)), json!({"type": "none"}));
        assert_eq!(
            choice(json!({"type": "function", "function": {"name": "get_weather"}}), json!(false)),
            json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true})
        );
        let out = convert(json!({"tools": [weather()], "parallel_tool_calls": false})).unwrap();
        assert_eq!(out["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
    }

    #[test]
    fn legacy_functions_and_function_call() {
        let out = convert(
            json!({"functions": [{"name": "f", "parameters": {"type": "object"}}], "function_call": {"name": "f"}}),
        )
        .unwrap();
        assert_eq!(out["tools"][0]["name"], "f");
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f"}));
    }

    #[test]
    fn tool_choice_without_tools_is_dropped_and_errors_name_fields() {
        assert!(convert(json!({"tool_choice": "required"})).unwrap().is_empty());
        let err = |b: Value| convert(b).unwrap_err().to_string();
        assert!(err(json!({"tools": [{"type": "custom", "custom": {}}]})).starts_with("tools[0].type"));
        assert!(err(json!({"tools": [{"type": "function", "function": {"parameters": {}}}]}))
            .starts_with("tools[0].function.name"));
        assert!(err(json!({"tools": [weather()], "tool_choice": "sometimes"})).starts_with("tool_choice"));
        assert!(err(json!({"tools": [weather()], "parallel_tool_calls": "no"})).starts_with("parallel_tool_calls"));
        assert!(err(json!({"tools": {}})).starts_with("tools"));
        let allowed = json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}});
        let message = err(json!({"tools": [weather()], "tool_choice": allowed}));
        assert!(message.starts_with("tool_choice.type: allowed_tools is not supported"), "{message}");
        assert!(err(json!({"tools": [weather()], "tool_choice": {"type": "custom", "custom": {"name": "x"}}}))
            .contains("\"custom\" is not supported"));
    }

    #[test]
    fn strict_functions_and_web_search_options() {
        let mut strict = weather();
        strict["function"]["strict"] = json!(true);
        let out = convert(json!({"tools": [strict], "web_search_options": {"search_context_size": "low",
            "user_location": {"type": "approximate", "approximate": {"city": "Lyon", "country": "FR"}}}}))
        .unwrap();
        assert_eq!(out["tools"][0]["strict"], true);
        assert_eq!(
            out["tools"][1],
            json!({"type": "web_search_20250305", "name": "web_search",
                   "user_location": {"type": "approximate", "city": "Lyon", "country": "FR"}})
        );
        let only_search = convert(json!({"web_search_options": {}})).unwrap();
        assert_eq!(only_search["tools"], json!([{"type": "web_search_20250305", "name": "web_search"}]));
    }
}
