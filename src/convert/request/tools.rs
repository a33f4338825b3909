//! `tools` and `tool_choice`, and the collection of every tool name a
//! request mentions (so the rewrite map covers the whole history).

use serde_json::{json, Map, Value};

use super::{field, invalid};
use crate::convert::errors::ConvertError;
use crate::convert::options::ConvertOptions;
use crate::convert::tool_names::ToolNames;

/// Registers the names of client tools, of `tool_choice` and of every
/// `tool_use` in the history. Shapes are checked loosely here; the
/// conversion proper reports malformed blocks with their path.
pub(super) fn collect_names(body: &Map<String, Value>, opts: &ConvertOptions) -> Result<ToolNames, ConvertError> {
    let mut names = ToolNames::new(opts.rewrite_tool_names);
    let mut register = |name: &str, path: &dyn Fn() -> String| {
        names.register(name).map_err(|collision| invalid(path(), collision.to_string()))
    };
    for (i, tool) in tool_list(body)?.iter().enumerate() {
        if let Some(name) = tool.get("name").and_then(Value::as_str) {
            register(name, &|| format!("tools[{i}].name"))?;
        }
    }
    if let Some(name) = field(body, "tool_choice").and_then(|c| c.get("name")).and_then(Value::as_str) {
        register(name, &|| "tool_choice.name".to_string())?;
    }
    let messages = body.get("messages").and_then(Value::as_array);
    for (i, message) in messages.into_iter().flatten().enumerate() {
        let blocks = message.get("content").and_then(Value::as_array);
        for (j, block) in blocks.into_iter().flatten().enumerate() {
            if block.get("type").and_then(Value::as_str) != Some("tool_use") {
                continue;
            }
            if let Some(name) = block.get("name").and_then(Value::as_str) {
                register(name, &|| format!("messages[{i}].content[{j}].name"))?;
            }
        }
    }
    Ok(names)
}

/// Client tools become functions. Server tools (a `type` other than
/// `custom`, e.g. `web_search_20250305`) run at Anthropic and have no schema
/// an OpenAI provider could call, so they are dropped; without any tool left,
/// `tool_choice` is dropped too (OpenAI rejects it without tools).
pub(super) fn put_tools(
    body: &Map<String, Value>,
    names: &ToolNames,
    out: &mut Map<String, Value>,
) -> Result<(), ConvertError> {
    let mut functions = Vec::new();
    for (i, tool) in tool_list(body)?.iter().enumerate() {
        if let Some(function) = function_tool(tool, i, names)? {
            functions.push(function);
        }
    }
    if functions.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), Value::Array(functions));
    if let Some(choice) = field(body, "tool_choice") {
        put_tool_choice(choice, names, out)?;
    }
    Ok(())
}

fn tool_list(body: &Map<String, Value>) -> Result<&[Value], ConvertError> {
    match field(body, "tools") {
        None => Ok(&[]),
        Some(Value::Array(tools)) => Ok(tools),
        Some(_) => Err(invalid("tools", "must be an array")),
    }
}

fn function_tool(tool: &Value, i: usize, names: &ToolNames) -> Result<Option<Value>, ConvertError> {
    let tool = tool.as_object().ok_or_else(|| invalid(format!("tools[{i}]"), "must be an object"))?;
    let kind = field(tool, "type").and_then(Value::as_str);
    let schema = field(tool, "input_schema");
    if !matches!(kind, None | Some("custom")) && schema.is_none() {
        return Ok(None);
    }
    let name = field(tool, "name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("tools[{i}].name"), "must be a string"))?;
    let parameters = match schema {
        None => json!({"type": "object", "properties": {}}),
        Some(schema @ Value::Object(_)) => schema.clone(),
        Some(_) => return Err(invalid(format!("tools[{i}].input_schema"), "must be an object")),
    };
    let mut function = Map::new();
    function.insert("name".into(), json!(names.to_upstream(name)));
    if let Some(description) = field(tool, "description").and_then(Value::as_str) {
        function.insert("description".into(), json!(description));
    }
    function.insert("parameters".into(), parameters);
    Ok(Some(json!({"type": "function", "function": function})))
}

fn put_tool_choice(choice: &Value, names: &ToolNames, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    let kind =
        choice.get("type").and_then(Value::as_str).ok_or_else(|| invalid("tool_choice.type", "must be a string"))?;
    let openai = match kind {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            let name = choice
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("tool_choice.name", "must be a string"))?;
            json!({"type": "function", "function": {"name": names.to_upstream(name)}})
        }
        other => {
            return Err(invalid(
                "tool_choice.type",
                format!("unknown tool_choice type {other:?}; expected auto, any, tool or none"),
            ))
        }
    };
    out.insert("tool_choice".into(), openai);
    if choice.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
        out.insert("parallel_tool_calls".into(), json!(false));
    }
    Ok(())
}
